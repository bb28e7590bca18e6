/* The callee's side of a call (DESIGN.md §5.3): an INVITE that came down
 * our circuit is answered here, never by the softphone — the caller's
 * certificate checked, its key as first seen, then contacts or the
 * strangers policy; a 302 to our direct address sealed to the caller, or a
 * decline, signed either way. */
#include "ua/sip_front.h"

#include "util/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void answer_up(struct ua_sip *s, uint64_t transaction, const osip_message_t *invite,
		      int status, const uint8_t *caller_public, const char *contact)
{
	osip_message_t *resp = NULL;
	char *text = NULL;
	uint8_t *signed_response = NULL;
	size_t len, signed_len = 0;
	if (!s->ua->certificate || sip_response_make(invite, status, NULL, &resp) < 0)
		return;
	if (sip_to_string(resp, &text, &len) < 0 ||
	    circ_sip_response_sign(&s->ua->keys, s->ua->certificate, s->ua->certificate_len,
				   caller_public, (const uint8_t *)text, len, contact,
				   &signed_response, &signed_len) < 0)
		goto out;
	Anosip__V1__SipMessage sm = ANOSIP__V1__SIP_MESSAGE__INIT;
	Anosip__V1__CircuitMessage cm = ANOSIP__V1__CIRCUIT_MESSAGE__INIT;
	sm.message.data = (uint8_t *)text;
	sm.message.len = len;
	sm.transaction = transaction;
	sm.signed_response.data = signed_response;
	sm.signed_response.len = signed_len;
	cm.body_case = ANOSIP__V1__CIRCUIT_MESSAGE__BODY_SIP;
	cm.sip = &sm;
	ua_circuit_send(s->ua, &cm);
out:
	free(text);
	free(signed_response);
	osip_message_free(resp);
}

static int is_contact(const struct ua_config *cfg, const char *nickname)
{
	for (int i = 0; i < cfg->n_contacts; i++)
		if (strcmp(cfg->contacts[i], nickname) == 0)
			return 1;
	return 0;
}

void ua_sip_redirect(struct ua_sip *s, uint64_t transaction, const osip_message_t *invite,
		     const char *caller, const uint8_t caller_public[32])
{
	char token[33], contact[CIRC_CONTACT_MAX];
	/* No softphone to ring: a contact hears 480; anyone else the same 603
	 * as ever, so a stranger cannot tell whether we are online. */
	if (ua_state_contact_get(s->state, util_wall_ms() / 1000, contact, sizeof(contact), NULL,
				 NULL, 0, NULL) < 0) {
		if (is_contact(s->ua->cfg, caller))
			answer_up(s, transaction, invite, 480, NULL, NULL);
		else
			ua_sip_decline(s, transaction, invite, caller, "no softphone registered");
		return;
	}
	if (ua_sip_token_new(s, caller, token) < 0) {
		ua_sip_decline(s, transaction, invite, caller, "no token left");
		return;
	}
	snprintf(contact, sizeof(contact), "sip:%s@%s", token, s->direct_addr);
	log_info("call from %s: redirected to our direct address", caller);
	s->redirects++;
	answer_up(s, transaction, invite, 302, caller_public, contact);
}

void ua_sip_decline(struct ua_sip *s, uint64_t transaction, const osip_message_t *invite,
		    const char *caller, const char *why)
{
	log_info("call from %s declined: %s", caller, why);
	s->declines++;
	answer_up(s, transaction, invite, 603, NULL, NULL);
}

void ua_sip_incoming_call(struct ua_sip *s, const Anosip__V1__SipMessage *sm, osip_message_t *m)
{
	Anosip__V1__Certificate *cert = NULL;
	char from[SIP_NICKNAME_MAX + 1];
	uint64_t now = util_wall_ms() / 1000;
	if (strcmp(sip_method(m), "INVITE") != 0) {
		node_count_drop(s->ua->node, NODE_DROP_UNKNOWN_MESSAGE);
		return;
	}
	/* The caller is who its lighthouse's certificate says, and the From
	 * must agree with it. */
	if (circ_certificate_verify_any(sm->caller_certificate.data, sm->caller_certificate.len,
					ua_sip_lighthouse_key, (void *)node_topo(s->ua->node), now,
					&cert) < 0 ||
	    !m->from || sip_uri_nickname(osip_from_get_url(m->from), from) < 0 ||
	    strcmp(from, cert->nickname) != 0) {
		s->forged++;
		answer_up(s, sm->transaction, m, 403, NULL, NULL);
		goto out;
	}
	/* The caller's key as first seen (trust on first use): a
	 * certificate some lighthouse minted with a key of its own does not
	 * pass for a contact. */
	if (ua_state_peer_key(s->state, from, cert->nickname_public.data, now) == -EKEYREJECTED) {
		log_warn("sip: a call as %s with a key other than the one it had before", from);
		s->forged++;
		ua_sip_decline(s, sm->transaction, m, from, "its key changed");
	} else if (is_contact(s->ua->cfg, from)) {
		ua_sip_redirect(s, sm->transaction, m, from, cert->nickname_public.data);
	} else {
		ua_sip_stranger(s, sm->transaction, m, from, cert->nickname_public.data);
	}
out:
	if (cert)
		anosip__v1__certificate__free_unpacked(cert, NULL);
}
