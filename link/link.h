/* link: the link protocol's codec — handshake and fixed-size sealed frames.
 * No I/O here: node/ moves the bytes, this part decides what they mean.
 * docs/protocol.md §1 is the specification.
 *
 * Every frame on the wire is LINK_FRAME_SIZE bytes, handshake included.
 * A message (an encoded LinkMessage) is cut into frames of up to
 * LINK_FRAME_PAYLOAD bytes each; the last is padded.
 *
 * The only bytes parsed by hand are the 3-byte header inside an opened
 * frame (flags, length): a fixed layout, checked (known flags, length at
 * most LINK_FRAME_PAYLOAD) before anything is copied. Messages themselves
 * are protobuf. */
#ifndef ANOSIP_LINK_H
#define ANOSIP_LINK_H

#include "keys/keys.h"

#include <stddef.h>
#include <stdint.h>

#define LINK_VERSION 1
#define LINK_FRAME_SIZE 512
#define LINK_TAG_SIZE 16
#define LINK_FRAME_HEADER 3 /* flags, payload length (big-endian 16 bits) */
#define LINK_FRAME_PAYLOAD (LINK_FRAME_SIZE - LINK_TAG_SIZE - LINK_FRAME_HEADER)
#define LINK_MESSAGE_MAX (64 * 1024)
#define LINK_FRAMES_MAX ((LINK_MESSAGE_MAX + LINK_FRAME_PAYLOAD - 1) / LINK_FRAME_PAYLOAD)

enum link_error {
	LINK_OK = 0,
	LINK_ERR_AUTH = -1000,	       /* a frame or handshake message failed authentication */
	LINK_ERR_FORMAT = -1001,       /* it opened but its content is malformed */
	LINK_ERR_OVERSIZE = -1002,     /* a message longer than LINK_MESSAGE_MAX */
	LINK_ERR_VERSION = -1003,      /* the peer speaks another protocol version */
	LINK_ERR_UNKNOWN_PEER = -1004, /* its id is not one we accept */
	LINK_ERR_BAD_SIGNATURE = -1005,
	LINK_ERR_WRONG_PEER = -1006, /* the responder is not who we dialled */
	LINK_ERR_STATE = -1007,	     /* call out of order (our bug) */
};
const char *link_strerror(int err);

/* --- handshake --- */

/* The responder asks this for the initiator's signing key; returns 0 and
 * fills sign_public when id is a node it accepts a link from. */
typedef int (*link_peer_lookup_fn)(void *ctx, const char *id, uint8_t sign_public[32]);

struct link_session {
	uint8_t tx_key[32];
	uint8_t rx_key[32];
	uint64_t tx_counter;
	uint64_t rx_counter;
	/* Reassembly of a message spread over several frames. */
	uint8_t *partial;
	size_t partial_len;
	size_t partial_cap;
};

struct link_handshake {
	int initiator;
	int step;
	const struct keys_pair *keys; /* NULL: an anonymous initiator (a ua) */
	char self_id[32];
	char peer_id[32];
	uint8_t peer_sign[32]; /* initiator: the responder's directory key */
	uint8_t eph_public[32];
	uint8_t eph_secret[32];
	uint8_t peer_eph[32];
	uint8_t chaining_key[32];
	link_peer_lookup_fn lookup;
	void *lookup_ctx;
	int allow_anonymous;
};

/* Initiator: knows whom it dials. keys may be NULL for an anonymous ua. */
void link_handshake_initiator(struct link_handshake *hs, const struct keys_pair *keys,
			      const char *self_id, const char *peer_id,
			      const uint8_t peer_sign[32]);
/* Responder: learns the initiator's id from message 3 and checks it with
 * lookup; allow_anonymous admits initiators without an identity. */
void link_handshake_responder(struct link_handshake *hs, const struct keys_pair *keys,
			      const char *self_id, link_peer_lookup_fn lookup, void *ctx,
			      int allow_anonymous);

/* Message 1 (initiator -> responder): the ephemeral key, random padding. */
int link_handshake_write_1(struct link_handshake *hs, uint8_t out[LINK_FRAME_SIZE]);
int link_handshake_read_1(struct link_handshake *hs, const uint8_t in[LINK_FRAME_SIZE]);
/* Message 2 (responder -> initiator): its ephemeral key, its sealed id and
 * signature. */
int link_handshake_write_2(struct link_handshake *hs, uint8_t out[LINK_FRAME_SIZE]);
int link_handshake_read_2(struct link_handshake *hs, const uint8_t in[LINK_FRAME_SIZE]);
/* Message 3 (initiator -> responder): the initiator's sealed id and signature. */
int link_handshake_write_3(struct link_handshake *hs, uint8_t out[LINK_FRAME_SIZE]);
int link_handshake_read_3(struct link_handshake *hs, const uint8_t in[LINK_FRAME_SIZE]);

/* After message 3: fills the session's keys and wipes the handshake. The
 * peer's id ("" for anonymous) stays in hs->peer_id. */
int link_handshake_finish(struct link_handshake *hs, struct link_session *s);
void link_handshake_wipe(struct link_handshake *hs);

/* --- frames --- */

/* Number of frames a message of len bytes takes. */
size_t link_frames_for(size_t len);

/* Seals a message into link_frames_for(len) frames written to out.
 * Returns the number of bytes written, or a negative link_error. */
long link_seal_message(struct link_session *s, const uint8_t *msg, size_t len, uint8_t *out,
		       size_t out_cap);

/* Opens one frame. Returns 1 and sets *msg and *len when a message is complete
 * (valid until the next call), 0 when more frames are needed, or a negative
 * link_error: the link must then be closed. */
int link_open_frame(struct link_session *s, const uint8_t frame[LINK_FRAME_SIZE],
		    const uint8_t **msg, size_t *len);

void link_session_wipe(struct link_session *s);

#endif
