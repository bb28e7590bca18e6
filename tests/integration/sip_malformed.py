#!/usr/bin/env python3
"""A deterministic generator of malformed SIP messages (docs/robustness.md,
"Malformed SIP suite"), for tests/integration/test_sip_malformed.py.

Each message is built from one of three well-formed templates (OPTIONS,
REGISTER, INVITE, as a softphone would send them to its ua) by one
mutation, or written by hand. Every one is malformed by RFC 3261's grammar
or rules, so that no correct server may answer it 1xx/2xx/3xx: where the
RFC allows something a strict parser might refuse (line folding, CRLFs
before the start line, a Content-Length shorter than a datagram, a Via
without branch, RFC 3261's own overlong UTF-8 forms in text, transports
and methods that are just tokens), the case is left out or made malformed
some other way.

The only randomness is random.Random(SEED): ids, tags and the positions of
the random byte insertions. Same seed, same messages, byte for byte.

Run it alone for the counts: python3 sip_malformed.py [--dump DIR]."""
import os
import random
import sys

SEED = 20261124
DOMAIN = "anosip"
CALLER = "father"  # the ua under test's nickname
CALLEE = "mother"

# Outcome classes: "error" — the message keeps an answerable Via, From,
# To, Call-ID and CSeq, so a 4xx-6xx is expected; "error-or-drop" — it may
# be unanswerable, a silent drop is as good.
ERROR = "error"
ERROR_OR_DROP = "error-or-drop"
BOTH = ("udp", "tcp")
TCP = ("tcp",)
UDP = ("udp",)
# A UDP datagram's largest payload over IPv4.
UDP_MAX = 65507


class Malformed:
    """One message: category, short name, bytes, expected outcome class
    and the transports it is malformed on."""

    def __init__(self, category, name, data, expect, transports):
        self.category = category
        self.name = name
        self.data = data
        self.expect = expect
        self.transports = transports

    def __repr__(self):
        return f"<{self.category}/{self.name} {len(self.data)} bytes>"


class Template:
    """A request as a start line, (name, value) headers and a body; text
    is latin-1 so that any byte can be written as a \\xNN escape.
    content_length None: the right one, written last; False: none; a
    string: that value."""

    def __init__(self, kind, rng):
        self.kind = kind
        hexid = lambda n: "%0*x" % (n, rng.getrandbits(4 * n))  # noqa: E731
        self.branch = "z9hG4bK" + hexid(16)
        self.tag = hexid(8)
        self.call_id = hexid(16) + "@ha.test"
        self.cseq = rng.randint(1, 9999)
        via = f"SIP/2.0/UDP 127.0.0.1:5999;branch={self.branch};rport"
        contact = f"<sip:{CALLER}@127.0.0.1:5999>"
        self.body = ""
        self.content_length = None
        if kind == "OPTIONS":
            self.uri = f"sip:{CALLEE}@{DOMAIN}"
            self.headers = [["Via", via], ["Max-Forwards", "70"],
                            ["From", f"\"Father\" <sip:{CALLER}@{DOMAIN}>;tag={self.tag}"],
                            ["To", f"<sip:{CALLEE}@{DOMAIN}>"], ["Call-ID", self.call_id],
                            ["CSeq", f"{self.cseq} OPTIONS"], ["Accept", "application/sdp"],
                            ["User-Agent", "hA-suite/1.0"], ["Subject", "probe"]]
        elif kind == "REGISTER":
            self.uri = f"sip:{DOMAIN}"
            self.headers = [["Via", via], ["Max-Forwards", "70"],
                            ["From", f"<sip:{CALLER}@{DOMAIN}>;tag={self.tag}"],
                            ["To", f"<sip:{CALLER}@{DOMAIN}>"], ["Call-ID", self.call_id],
                            ["CSeq", f"{self.cseq} REGISTER"], ["Contact", contact],
                            ["Expires", "600"], ["User-Agent", "hA-suite/1.0"]]
        else:
            self.uri = f"sip:{CALLEE}@{DOMAIN}"
            self.headers = [["Via", via], ["Max-Forwards", "70"],
                            ["From", f"\"Father\" <sip:{CALLER}@{DOMAIN}>;tag={self.tag}"],
                            ["To", f"<sip:{CALLEE}@{DOMAIN}>"], ["Call-ID", self.call_id],
                            ["CSeq", f"{self.cseq} INVITE"], ["Contact", contact],
                            ["Subject", "a call"], ["Content-Type", "application/sdp"]]
            self.body = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                         "t=0 0\r\nm=audio 6000 RTP/AVP 0\r\n")
        self.start = f"{kind} {self.uri} SIP/2.0"

    def has(self, name):
        return any(h[0].lower() == name.lower() for h in self.headers)

    def get(self, name):
        for h in self.headers:
            if h[0].lower() == name.lower():
                return h[1]
        raise KeyError(name)

    def set(self, name, value):
        for h in self.headers:
            if h[0].lower() == name.lower():
                h[1] = value
                return
        self.headers.append([name, value])

    def remove(self, name):
        self.headers = [h for h in self.headers if h[0].lower() != name.lower()]

    def render(self):
        lines = [self.start] + [f"{n}: {v}" for n, v in self.headers]
        body = self.body.encode("latin-1") if isinstance(self.body, str) else self.body
        if self.content_length is None:
            lines.append(f"Content-Length: {len(body)}")
        elif self.content_length is not False:
            lines.append(f"Content-Length: {self.content_length}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


KINDS = ("OPTIONS", "REGISTER", "INVITE")

# --- the pieces mutations put in -----------------------------------------

BAD_URIS = [
    # (short name, URI): none of them a SIP-URI by RFC 3261 §25.1.
    ("scheme-digit", f"1sip:{CALLEE}@{DOMAIN}"), ("scheme-space", f"si p:{CALLEE}@{DOMAIN}"),
    ("scheme-empty", f":{CALLEE}@{DOMAIN}"), ("scheme-slashes", f"sip//{CALLEE}@{DOMAIN}"),
    ("no-scheme", f"{CALLEE}@{DOMAIN}"), ("scheme-only", "sip:"), ("sips-only", "sips:"),
    ("empty-user", f"sip:@{DOMAIN}"), ("no-host", f"sip:{CALLEE}@"),
    ("no-host-port", f"sip:{CALLEE}@:5060"), ("port-empty", f"sip:{CALLEE}@{DOMAIN}:"),
    ("port-alpha", f"sip:{CALLEE}@{DOMAIN}:abc"), ("port-negative", f"sip:{CALLEE}@{DOMAIN}:-1"),
    ("port-twice", f"sip:{CALLEE}@{DOMAIN}:50:60"), ("port-suffix", f"sip:{CALLEE}@{DOMAIN}:5060x"),
    ("escape-zz", f"sip:mo%zzther@{DOMAIN}"), ("escape-cut", f"sip:{CALLEE}%@{DOMAIN}"),
    ("escape-half", f"sip:{CALLEE}%4@{DOMAIN}"), ("escape-gg", f"sip:%GG{CALLEE}@{DOMAIN}"),
    ("escape-host", f"sip:{CALLEE}@ano%zzsip"),
    ("ipv6-open", f"sip:{CALLEE}@[::1"), ("ipv6-close", f"sip:{CALLEE}@::1]"),
    ("ipv6-double", f"sip:{CALLEE}@[::1]]"), ("ipv6-hex", f"sip:{CALLEE}@[zz::1]"),
    ("ipv6-empty", f"sip:{CALLEE}@[]"), ("ipv6-trailer", f"sip:{CALLEE}@[::1]x"),
    ("param-no-name", f"sip:{CALLEE}@{DOMAIN};=x"), ("param-empty", f"sip:{CALLEE}@{DOMAIN};;lr"),
    ("param-trailing", f"sip:{CALLEE}@{DOMAIN};"),
    ("transport-empty", f"sip:{CALLEE}@{DOMAIN};transport="),
    ("headers-empty", f"sip:{CALLEE}@{DOMAIN}?"), ("headers-no-name", f"sip:{CALLEE}@{DOMAIN}?=x"),
    ("host-space", f"sip:{CALLEE}@ano sip"), ("user-space", f"sip:mo ther@{DOMAIN}"),
    ("two-at", f"sip:{CALLEE}@{DOMAIN}@{DOMAIN}"), ("angle-inside", f"sip:<{CALLEE}>@{DOMAIN}"),
    ("quote-inside", f"sip:mo\"ther@{DOMAIN}"), ("user-8bit", f"sip:m\xc3\xa8re@{DOMAIN}"),
]
HUGE_USER = "sip:" + "a" * 9000 + f"@{DOMAIN}"

# Never UTF-8 under any definition (RFC 3261's UTF8-NONASCII included).
BAD_TEXT = [("ff", "\xff"), ("fe", "\xfe"), ("lone-cont", "\x80"), ("cont-bf", "\xbf"),
            ("cut-2", "\xc3"), ("cut-3", "\xe2\x82"), ("cut-4", "\xf0\x9f\x98"),
            ("bad-cont", "\xc3("), ("ascii-after-lead", "\xe2(\xa1")]
# Not UTF-8 by RFC 3629, which RFC 3261's grammar still matches in text;
# only used where no 8-bit byte may be at all (tokens, URIs, numbers).
BAD_TOKEN_ONLY = [("overlong-2", "\xc0\xaf"), ("overlong-3", "\xe0\x80\xaf"),
                  ("surrogate", "\xed\xa0\x80"), ("five-byte", "\xf8\x88\x80\x80\x80"),
                  ("utf8-e-acute", "\xc3\xa9")]
CONTROLS = [("nul", "\x00"), ("soh", "\x01"), ("bel", "\x07"), ("bs", "\x08"), ("vt", "\x0b"),
            ("ff-page", "\x0c"), ("esc", "\x1b"), ("del", "\x7f")]


def _in_value(t, name, text, where=0.5):
    """Puts text inside header name's value (at a fraction of its length,
    never at an end, where it could be trimmed as whitespace)."""
    v = t.get(name)
    i = max(1, min(len(v) - 1, int(len(v) * where)))
    t.set(name, v[:i] + text + v[i:])


# Where text goes for each "header kind" of the encoding category: (kind,
# template kinds it applies to, function(template, text), token place?).
def _display(name):
    def put(t, s):
        v = t.get(name)
        if v.startswith('"'):
            t.set(name, '"Fa' + s + v[3:])
        else:
            t.set(name, f'"X{s}Y" ' + v)
    return put


def _uri_user(name):
    def put(t, s):
        t.set(name, t.get(name).replace(f"sip:{CALLER}@" if name != "To" or t.kind == "REGISTER"
                                        else f"sip:{CALLEE}@", f"sip:fa{s}ther@", 1))
    return put


SPOTS = [
    ("subject", ("OPTIONS", "INVITE"), lambda t, s: _in_value(t, "Subject", s), False),
    ("from-display", KINDS, _display("From"), False),
    ("to-display", KINDS, _display("To"), False),
    ("user-agent", ("OPTIONS", "REGISTER"),
     lambda t, s: t.set("User-Agent", f"hA-suite/1.0 (te{s}st)"), False),
    ("x-header", KINDS, lambda t, s: t.headers.append(["X-Note", f"a{s}b"]), False),
    ("via-host", KINDS, lambda t, s: t.set("Via", t.get("Via").replace("127.0.0.1", f"ho{s}st")),
     True),
    ("via-branch", KINDS, lambda t, s: t.set("Via", t.get("Via").replace(";rport", s)), True),
    ("call-id", KINDS, lambda t, s: _in_value(t, "Call-ID", s, 0.3), True),
    ("cseq-method", KINDS, lambda t, s: t.set("CSeq", t.get("CSeq") + s), True),
    ("from-tag", KINDS, lambda t, s: t.set("From", t.get("From") + s), True),
    ("from-user", KINDS, _uri_user("From"), True),
    ("max-forwards", KINDS, lambda t, s: t.set("Max-Forwards", "7" + s + "0"), True),
    ("contact-user", ("REGISTER", "INVITE"), _uri_user("Contact"), True),
    ("expires", ("REGISTER",), lambda t, s: t.set("Expires", "6" + s + "00"), True),
    ("accept", ("OPTIONS",), lambda t, s: t.set("Accept", f"appli{s}cation/sdp"), True),
    ("content-type", ("INVITE",), lambda t, s: t.set("Content-Type", f"application/s{s}dp"), True),
    ("header-name", KINDS, lambda t, s: t.headers.append([f"X-Na{s}me", "1"]), True),
    ("request-uri", ("OPTIONS", "INVITE"),
     lambda t, s: setattr(t, "start", t.start.replace(f"sip:{CALLEE}@", f"sip:mo{s}ther@")), True),
    ("method", KINDS, lambda t, s: setattr(t, "start", t.kind[:2] + s + t.start[2:]), True),
]


class Generator:
    def __init__(self, seed=SEED):
        self.rng = random.Random(seed)
        self.out = []
        self.seen = set()

    def t(self, kind):
        return Template(kind, self.rng)

    def add(self, category, name, data, expect=ERROR_OR_DROP, transports=BOTH):
        if isinstance(data, Template):
            data = data.render()
        if isinstance(data, str):
            data = data.encode("latin-1")
        if data in self.seen:
            return
        if len(data) > UDP_MAX:
            transports = tuple(x for x in transports if x != "udp")
        self.seen.add(data)
        self.out.append(Malformed(category, name, data, expect, transports))

    def each(self, category, name, fn, kinds=KINDS, expect=ERROR_OR_DROP, transports=BOTH):
        """fn(template) mutates it (or returns bytes to send instead)."""
        for kind in kinds:
            t = self.t(kind)
            data = fn(t)
            self.add(category, f"{kind.lower()}-{name}", t if data is None else data, expect,
                     transports)

    # --- categories ---

    def start_line(self):
        c = "start-line"
        for bad in "@()<>,;:\\\"/[]?={}":
            self.each(c, f"method-char-{ord(bad):02x}",
                      lambda t: setattr(t, "start", t.kind[:3] + bad + t.start[3:]))
        self.each(c, "method-empty", lambda t: setattr(t, "start", t.start[len(t.kind):]))
        self.each(c, "method-space", lambda t: setattr(t, "start", t.kind[:3] + " " + t.start[3:]))
        self.each(c, "method-lowercase-cseq-upper",
                  lambda t: setattr(t, "start", t.kind.lower() + t.start[len(t.kind):]))
        self.each(c, "method-long", lambda t: setattr(t, "start", t.kind * 12 + t.start[len(t.kind):]))
        self.each(c, "uri-missing", lambda t: setattr(t, "start", f"{t.kind}  SIP/2.0"))
        self.each(c, "uri-two-parts", lambda t: setattr(t, "start", f"{t.kind} SIP/2.0"))
        self.each(c, "uri-angle", lambda t: setattr(t, "start", f"{t.kind} <{t.uri}> SIP/2.0"))
        self.each(c, "uri-space", lambda t: setattr(t, "start", f"{t.kind} {t.uri} x SIP/2.0"))
        for name, version in [("3.0", "SIP/3.0"), ("2.1", "SIP/2.1"), ("2", "SIP/2"),
                              ("20", "SIP/20"), ("2.0.0", "SIP/2.0.0"), ("sips", "SIPS/2.0"),
                              ("slash", "SIP/"), ("sip20", "SIP2.0"), ("x", "SIP/x.y")]:
            self.each(c, f"version-{name}",
                      lambda t: setattr(t, "start", f"{t.kind} {t.uri} {version}"))
        self.each(c, "version-http", lambda t: setattr(t, "start", f"{t.kind} {t.uri} HTTP/1.1"))
        self.each(c, "version-missing", lambda t: setattr(t, "start", f"{t.kind} {t.uri}"))
        self.each(c, "version-trailing-space",
                  lambda t: setattr(t, "start", f"{t.kind} {t.uri} SIP/2.0 "))
        self.each(c, "tabs", lambda t: setattr(t, "start", f"{t.kind}\t{t.uri}\tSIP/2.0"))
        self.each(c, "tab-then-space", lambda t: setattr(t, "start", f"{t.kind}\t {t.uri} SIP/2.0"))
        self.each(c, "double-space", lambda t: setattr(t, "start", f"{t.kind}  {t.uri}  SIP/2.0"))
        self.each(c, "leading-space", lambda t: setattr(t, "start", " " + t.start))
        self.each(c, "leading-tab", lambda t: setattr(t, "start", "\t" + t.start))
        self.each(c, "order-swapped", lambda t: setattr(t, "start", f"SIP/2.0 {t.uri} {t.kind}"))
        self.each(c, "header-first", lambda t: setattr(t, "start", "Max-Forwards: 70"))
        self.each(c, "empty", lambda t: setattr(t, "start", ""))
        self.each(c, "only-start-line", lambda t: (t.start + "\r\n").encode())
        self.each(c, "no-blank-line", lambda t: t.render()[:-2 - len(t.render().split(
            b"\r\n\r\n", 1)[1])])
        # Responses: nothing is sent back to a response, so these only show
        # that the ua keeps going.
        for name, line in [("status-2-digits", "SIP/2.0 99 Odd"), ("status-4-digits",
                           "SIP/2.0 1000 Odd"), ("status-alpha", "SIP/2.0 abc OK"),
                           ("status-no-reason-sp", "SIP/2.0 200"), ("status-700", "SIP/2.0 700 X"),
                           ("status-0", "SIP/2.0 000 X"), ("response-version", "SIP/3.0 200 OK")]:
            self.each(c, name, lambda t: setattr(t, "start", line), kinds=("OPTIONS",))
        r = random.Random(self.rng.getrandbits(32))
        for i in range(25):
            junk = "".join(chr(r.randint(0x21, 0x7e)) for _ in range(r.randint(3, 60)))
            self.each(c, f"garbage-{i}", lambda t: setattr(t, "start", junk),
                      kinds=(KINDS[i % 3],))
        for i in range(15):
            junk = bytes(r.randint(0, 255) for _ in range(r.randint(1, 300)))
            self.add(c, f"binary-{i}", b"\x01" + junk)
        self.add(c, "nothing-but-spaces", b"     \r\n\r\n")

    def headers(self):
        c = "headers"
        for name in ("Via", "From", "To", "Call-ID", "CSeq"):
            self.each(c, f"missing-{name.lower()}", lambda t: t.remove(name))
        self.each(c, "missing-all", lambda t: setattr(t, "headers", []))
        self.each(c, "missing-all-but-via", lambda t: setattr(t, "headers", t.headers[:1]))
        for name in ("From", "To", "Call-ID", "CSeq", "Max-Forwards"):
            self.each(c, f"duplicate-{name.lower()}-same",
                      lambda t: t.headers.append([name, t.get(name)]))
        self.each(c, "duplicate-from-other", lambda t: t.headers.append(
            ["From", f"<sip:grandma@{DOMAIN}>;tag=other"]))
        self.each(c, "duplicate-to-other", lambda t: t.headers.append(
            ["To", f"<sip:grandma@{DOMAIN}>"]))
        self.each(c, "duplicate-call-id-other", lambda t: t.headers.append(["Call-ID", "x@y"]))
        self.each(c, "duplicate-cseq-other", lambda t: t.headers.append(
            ["CSeq", f"{t.cseq + 1} {t.kind}"]))
        self.each(c, "duplicate-max-forwards-other", lambda t: t.headers.append(
            ["Max-Forwards", "1"]))
        self.each(c, "duplicate-compact-from", lambda t: t.headers.append(
            ["f", f"<sip:grandma@{DOMAIN}>;tag=c"]))
        self.each(c, "duplicate-compact-call-id", lambda t: t.headers.append(["i", "c@d"]))
        self.each(c, "duplicate-expires", lambda t: t.headers.append(["Expires", "60"]),
                  kinds=("REGISTER",))
        self.each(c, "duplicate-content-type", lambda t: t.headers.append(
            ["Content-Type", "text/plain"]), kinds=("INVITE",))
        for name in ("Via", "From", "To", "Call-ID", "CSeq", "Max-Forwards"):
            self.each(c, f"no-colon-{name.lower()}", lambda t: t.render().replace(
                f"\r\n{name}: ".encode(), f"\r\n{name} ".encode(), 1))
            self.each(c, f"empty-{name.lower()}", lambda t: t.set(name, ""))
            self.each(c, f"space-name-{name.lower()}", lambda t: t.render().replace(
                f"\r\n{name}: ".encode(), f"\r\n{name[:1]} {name[1:]}: ".encode(), 1))
        self.each(c, "empty-contact", lambda t: t.set("Contact", ""), kinds=("REGISTER", "INVITE"))
        self.each(c, "empty-content-type", lambda t: t.set("Content-Type", ""), kinds=("INVITE",))
        self.each(c, "no-colon-x", lambda t: t.render().replace(
            b"\r\n\r\n", b"\r\nX-Note hello\r\n\r\n", 1))
        self.each(c, "empty-name", lambda t: t.headers.append(["", "value"]))
        self.each(c, "colon-only", lambda t: t.headers.append(["", ""]))
        for bad in "@()<>,;\\\"/[]?={} ":
            self.each(c, f"name-char-{ord(bad):02x}", lambda t: t.headers.append(
                [f"X{bad}Note", "1"]), kinds=(KINDS[ord(bad) % 3],))
        # Folding is legal LWS in RFC 3261; these folds are not: onto the
        # start line, inside a header name, inside a Call-ID or a CSeq.
        self.each(c, "fold-onto-start-line", lambda t: t.render().replace(
            b" SIP/2.0\r\n", b" SIP/2.0\r\n x\r\n", 1))
        self.each(c, "fold-in-name", lambda t: t.render().replace(
            b"\r\nCall-ID: ", b"\r\nCall-\r\n ID: ", 1))
        self.each(c, "fold-before-colon", lambda t: t.render().replace(
            b"\r\nCall-ID: ", b"\r\nCall-ID\r\n : ", 1))
        self.each(c, "fold-in-call-id", lambda t: t.render().replace(
            b"@ha.test", b"@ha\r\n .test", 1))
        self.each(c, "fold-in-cseq-number", lambda t: t.render().replace(
            f"CSeq: {t.cseq} ".encode(), f"CSeq: {t.cseq}\r\n 7 ".encode(), 1))

    def uris(self):
        c = "uri"
        spots = [("ruri", KINDS, lambda t, u: setattr(t, "start", f"{t.kind} {u} SIP/2.0")),
                 ("from", KINDS, lambda t, u: t.set("From", f"<{u}>;tag={t.tag}")),
                 ("to", KINDS, lambda t, u: t.set("To", f"<{u}>")),
                 ("contact", ("REGISTER", "INVITE"), lambda t, u: t.set("Contact", f"<{u}>"))]
        for spot, kinds, put in spots:
            for name, uri in BAD_URIS:
                self.each(c, f"{spot}-{name}", lambda t: put(t, uri), kinds=kinds)
            self.each(c, f"{spot}-huge-user", lambda t: put(t, HUGE_USER), kinds=kinds[:1])
        # A bare addr-spec with parameters is read as the header's: these
        # have no URI at all.
        self.each(c, "from-no-uri", lambda t: t.set("From", f"\"Father\" ;tag={t.tag}"))
        self.each(c, "to-angle-unclosed", lambda t: t.set("To", f"<sip:{CALLEE}@{DOMAIN}"))
        self.each(c, "from-angle-unopened", lambda t: t.set(
            "From", f"sip:{CALLER}@{DOMAIN}>;tag={t.tag}"))
        self.each(c, "from-quote-unclosed", lambda t: t.set(
            "From", f"\"Father <sip:{CALLER}@{DOMAIN}>;tag={t.tag}"))

    def content_length(self):
        c = "content-length"
        for name, value in [("negative", "-1"), ("negative-5", "-5"), ("minus-zero", "-0"),
                            ("alpha", "abc"), ("digit-alpha", "5a"), ("alpha-digit", "a5"),
                            ("hex", "0x10"), ("exponent", "1e3"), ("plus", "+5"),
                            ("decimal", "5.0"), ("two-numbers", "5 5"), ("empty", ""),
                            ("word", "five"), ("8bit", "\xbd"), ("comma", "1,2"),
                            ("param", "0;x=1"), ("huge", "9" * 30), ("2-64", str(2 ** 64)),
                            ("2-32-plus", None)]:
            def put(t, value=value):
                body = len(t.body)
                t.content_length = value if value is not None else str(2 ** 32 + body)
            self.each(c, name, put)
        # Longer than the body: RFC 3261 §18.3, 400 on UDP; on TCP the ua
        # waits for bytes that never come, and the close is the drop.
        for extra in (1, 7, 100, 5000):
            self.each(c, f"too-large-by-{extra}",
                      lambda t: setattr(t, "content_length", str(len(t.body) + extra)),
                      expect=ERROR_OR_DROP)
        self.each(c, "too-large-beyond-limit", lambda t: setattr(t, "content_length", "100000"))
        # Shorter than the body: the bytes past it are extra on UDP (§18.3
        # lets a server drop them), so what is left must still be wrong:
        # a body without Content-Type.
        for keep in (1, 3, 8):
            def short(t, keep=keep):
                t.remove("Content-Type")
                t.body = "hello world, a body with no type"
                t.content_length = str(keep)
            self.each(c, f"too-small-untyped-{keep}", short, expect=ERROR)
        for name, second in [("same", None), ("other", "3"), ("compact", "l")]:
            def dup(t, name=name, second=second):
                n = str(len(t.body))
                if name == "compact":
                    t.headers.append(["l", n])
                else:
                    t.headers.append(["Content-Length", second or n])
            self.each(c, f"duplicate-{name}", dup)
        # RFC 3261 §18.3: mandatory on a stream.
        self.each(c, "absent-on-tcp", lambda t: setattr(t, "content_length", False),
                  transports=TCP)

        def absent_untyped(t):
            t.remove("Content-Type")
            t.body = "v=0\r\n"
            t.content_length = False
        self.each(c, "absent-untyped-body", absent_untyped)

        def over_limit(t, size):
            t.remove("Content-Type")
            t.headers.append(["Content-Type", "text/plain"])
            t.body = "x" * size
        self.each(c, "over-limit-udp", lambda t: over_limit(t, 60000), transports=UDP)
        self.each(c, "over-limit-tcp", lambda t: over_limit(t, 200000), transports=TCP)

    def bodies(self):
        c = "body"
        for name, body in [("sdp", "v=0\r\n"), ("text", "hello"), ("one-byte", "x"),
                           ("nuls", "\x00\x00\x00\x00"), ("nul-inside", "v=0\r\n\x00o=-\r\n"),
                           ("binary", "\x01\xff\xfe\x00\x80"), ("crlf", "\r\n\r\n"),
                           ("headers-like", "Via: SIP/2.0/UDP x\r\n\r\n")]:
            def untyped(t, body=body):
                t.remove("Content-Type")
                t.body = body
            self.each(c, f"untyped-{name}", untyped, expect=ERROR)
        for cut in (1, 10, 40):
            def truncated(t, cut=cut):
                if not t.body:
                    t.body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" * 2
                    t.headers.append(["Content-Type", "application/sdp"])
                t.content_length = str(len(t.body))
                t.body = t.body[:-cut]
            self.each(c, f"truncated-by-{cut}", truncated)
        for name, ctype in [("no-subtype", "application"), ("no-type", "/sdp"),
                            ("slash-only", "/"), ("trailing-slash", "application/"),
                            ("trailing-semicolon", "application/sdp;"),
                            ("param-no-value", "application/sdp;charset="),
                            ("param-no-name", "application/sdp;=utf-8"),
                            ("space-in-type", "appli cation/sdp"),
                            ("two-slashes", "application/sdp/x"),
                            ("multipart-no-boundary", "multipart/mixed"),
                            ("multipart-empty-boundary", "multipart/mixed;boundary=")]:
            def typed(t, ctype=ctype):
                t.remove("Content-Type")
                t.headers.append(["Content-Type", ctype])
                t.body = t.body or "v=0\r\n"
            self.each(c, f"content-type-{name}", typed)

    def encodings(self):
        c = "encoding"
        for spot, kinds, put, token in SPOTS:
            seqs = BAD_TEXT + (BAD_TOKEN_ONLY if token else [])
            for name, seq in seqs:
                self.each(c, f"{spot}-{name}", lambda t: put(t, seq), kinds=kinds)
            for name, seq in CONTROLS:
                self.each(c, f"{spot}-{name}", lambda t: put(t, seq), kinds=kinds[:1])

    def huge(self):
        c = "huge"
        self.each(c, "header-64k", lambda t: t.headers.append(["X-Big", "a" * 65536]),
                  kinds=("OPTIONS", "INVITE"), transports=TCP)
        self.each(c, "header-60k", lambda t: t.headers.append(["X-Big", "a" * 60000]),
                  kinds=("OPTIONS", "REGISTER"), transports=UDP)
        self.each(c, "headers-10000", lambda t: t.headers.extend(
            [["X", str(i % 10)] for i in range(10000)]), kinds=("OPTIONS", "REGISTER"))
        self.each(c, "tcp-1mib", lambda t: t.headers.append(["X-Big", "b" * (1 << 20)]),
                  kinds=("OPTIONS",), transports=TCP)
        self.each(c, "body-1mib", lambda t: setattr(t, "body", "c" * (1 << 20)),
                  kinds=("INVITE",), transports=TCP)
        self.each(c, "via-1000-params", lambda t: t.set("Via", t.get("Via") + "".join(
            f";param{i}=value{i}" for i in range(1000))))
        self.each(c, "vias-300", lambda t: t.headers.extend(
            [["Via", f"SIP/2.0/UDP 10.0.0.{i % 250}:5060;branch=z9hG4bKv{i}"]
             for i in range(300)]), kinds=("OPTIONS",))
        self.each(c, "call-id-9000", lambda t: t.set("Call-ID", "c" * 9000))
        self.each(c, "subject-9000", lambda t: t.set("Subject", "s" * 9000),
                  kinds=("OPTIONS", "INVITE"))
        self.each(c, "method-9000", lambda t: setattr(t, "start", "M" * 9000 + t.start[len(
            t.kind):]))
        self.each(c, "start-line-64k-no-end", lambda t: ("OPTIONS sip:" + "u" * 65000).encode(),
                  kinds=("OPTIONS",), transports=TCP)
        self.each(c, "from-tag-9000", lambda t: t.set("From", t.get("From") + "t" * 9000))
        self.each(c, "contacts-500", lambda t: t.headers.extend(
            [["Contact", f"<sip:c{i}@127.0.0.1:5999>"] for i in range(500)]), kinds=("REGISTER",))
        self.each(c, "max-forwards-digits", lambda t: t.set("Max-Forwards", "7" * 9000))

    def crlf(self):
        c = "crlf"
        self.each(c, "all-lf", lambda t: t.render().replace(b"\r\n", b"\n"))
        self.each(c, "all-cr", lambda t: t.render().replace(b"\r\n", b"\r"))
        self.each(c, "all-lfcr", lambda t: t.render().replace(b"\r\n", b"\n\r"))
        self.each(c, "start-line-lf", lambda t: t.render().replace(b"SIP/2.0\r\n", b"SIP/2.0\n", 1))
        self.each(c, "blank-line-lf", lambda t: t.render().replace(b"\r\n\r\n", b"\r\n\n", 1))
        for name in ("Via", "From", "To", "Call-ID", "CSeq", "Max-Forwards"):
            self.each(c, f"lf-after-{name.lower()}", lambda t: t.render().replace(
                f"\r\n{t.headers[[h[0] for h in t.headers].index(name) + 1][0]}: ".encode(),
                f"\n{t.headers[[h[0] for h in t.headers].index(name) + 1][0]}: ".encode(), 1))
            self.each(c, f"cr-after-{name.lower()}", lambda t: t.render().replace(
                f"\r\n{t.headers[[h[0] for h in t.headers].index(name) + 1][0]}: ".encode(),
                f"\r{t.headers[[h[0] for h in t.headers].index(name) + 1][0]}: ".encode(), 1))
            for sep_name, sep in [("cr", "\r"), ("lf", "\n")]:
                self.each(c, f"{sep_name}-inside-{name.lower()}",
                          lambda t: _in_value(t, name, sep))
        for sep_name, sep in [("crlf", "\r\n"), ("cr", "\r"), ("lf", "\n")]:
            self.each(c, f"display-name-{sep_name}", lambda t: t.set(
                "From", f"\"evil{sep}Contact: <sip:x@192.0.2.1>\" <sip:{CALLER}@{DOMAIN}>"
                f";tag={t.tag}"))
            self.each(c, f"uri-param-{sep_name}", lambda t: t.set(
                "To", f"<sip:{CALLEE}@{DOMAIN};x=1{sep}X-Evil: 1>"))
            self.each(c, f"ruri-param-{sep_name}", lambda t: setattr(
                t, "start", f"{t.kind} {t.uri};x{sep}X-Evil: 1 SIP/2.0"))
            self.each(c, f"call-id-{sep_name}", lambda t: t.set(
                "Call-ID", f"{t.call_id}{sep}Call-ID: injected@ha.test"))
        for sep_name, sep in [("cr", "\r"), ("lf", "\n")]:
            self.each(c, f"subject-{sep_name}-at-end", lambda t: t.set("Subject", f"hi{sep}"))

    def cseq(self):
        c = "cseq"
        for name, value in [("method-mismatch", None), ("2-31", "2147483648 {m}"),
                            ("2-32", "4294967296 {m}"), ("huge", "9" * 25 + " {m}"),
                            ("negative", "-1 {m}"), ("no-number", "{m}"), ("no-method", "1"),
                            ("extra-token", "1 {m} x"), ("digit-alpha", "1a {m}"),
                            ("hex", "0x10 {m}"), ("decimal", "1.5 {m}"), ("plus", "+1 {m}"),
                            ("method-lower", "1 {l}"), ("comma", "1,2 {m}"),
                            ("method-bad-char", "1 {m}@"), ("no-space", "1{m}"),
                            ("space-number", "1 2 {m}")]:
            def put(t, value=value):
                if value is None:
                    other = "INVITE" if t.kind != "INVITE" else "OPTIONS"
                    t.set("CSeq", f"{t.cseq} {other}")
                else:
                    t.set("CSeq", value.format(m=t.kind, l=t.kind.lower()))
            expect = ERROR if name in ("method-mismatch", "method-lower") else ERROR_OR_DROP
            self.each(c, name, put, expect=expect)

    def via(self):
        c = "via"
        for name, value in [
                ("branch-empty", "SIP/2.0/UDP 127.0.0.1:5999;branch=;rport"),
                ("transport-space", "SIP/2.0/U DP 127.0.0.1:5999;branch={b}"),
                ("transport-empty", "SIP/2.0/ 127.0.0.1:5999;branch={b}"),
                ("transport-missing", "SIP/2.0 127.0.0.1:5999;branch={b}"),
                ("version-3", "SIP/3.0/UDP 127.0.0.1:5999;branch={b}"),
                ("protocol-extra", "SIP/2.0/UDP/X 127.0.0.1:5999;branch={b}"),
                ("protocol-name-missing", "/2.0/UDP 127.0.0.1:5999;branch={b}"),
                ("port-alpha", "SIP/2.0/UDP 127.0.0.1:abc;branch={b}"),
                ("port-empty", "SIP/2.0/UDP 127.0.0.1:;branch={b}"),
                ("port-negative", "SIP/2.0/UDP 127.0.0.1:-5;branch={b}"),
                ("port-twice", "SIP/2.0/UDP 127.0.0.1:5060:1;branch={b}"),
                ("sent-by-missing", "SIP/2.0/UDP ;branch={b}"),
                ("sent-by-ipv6-open", "SIP/2.0/UDP [::1;branch={b}"),
                ("param-empty", "SIP/2.0/UDP 127.0.0.1:5999;;branch={b}"),
                ("param-no-name", "SIP/2.0/UDP 127.0.0.1:5999;=1;branch={b}"),
                ("received-word", "SIP/2.0/UDP 127.0.0.1:5999;branch={b};received=abc"),
                ("rport-alpha", "SIP/2.0/UDP 127.0.0.1:5999;branch={b};rport=abc"),
                ("ttl-alpha", "SIP/2.0/UDP 127.0.0.1:5999;branch={b};ttl=x"),
                ("only-protocol", "SIP/2.0/UDP"),
                ("empty-in-list", "SIP/2.0/UDP 127.0.0.1:5999;branch={b},,"),
                ("trailing-comma", "SIP/2.0/UDP 127.0.0.1:5999;branch={b},"),
                ("word", "hello")]:
            self.each(c, name, lambda t: t.set("Via", value.format(b=t.branch)))

    def random_bytes(self, n=240):
        """A byte no start line or header may hold (NUL, a control byte, a
        byte that is never UTF-8, a lone CR or LF) at a random place of
        the start line or headers."""
        c = "random-insert"
        bad = ["\x00", "\x01", "\x02", "\x08", "\x0b", "\x0c", "\x0e", "\x1f", "\x7f", "\xff",
               "\xfe", "\x80", "\xc0", "\r", "\n"]
        for i in range(n):
            t = self.t(KINDS[i % 3])
            data = t.render()
            head = data.index(b"\r\n\r\n")
            pos = self.rng.randint(1, head)
            b = self.rng.choice(bad).encode("latin-1")
            self.add(c, f"{t.kind.lower()}-{i}-at-{pos}", data[:pos] + b + data[pos:])

    def all(self):
        self.start_line()
        self.headers()
        self.uris()
        self.content_length()
        self.bodies()
        self.encodings()
        self.huge()
        self.crlf()
        self.cseq()
        self.via()
        self.random_bytes()
        return self.out


def generate(seed=SEED):
    return Generator(seed).all()


def templates(seed=SEED):
    """The three well-formed templates, as the suite's control."""
    rng = random.Random(seed + 1)
    return {kind: Template(kind, rng).render() for kind in KINDS}


def main(argv):
    msgs = generate()
    counts = {}
    for m in msgs:
        counts[m.category] = counts.get(m.category, 0) + 1
    for cat, n in counts.items():
        print(f"{cat:16} {n}")
    print(f"{'total':16} {len(msgs)} ({sum('udp' in m.transports for m in msgs)} udp, "
          f"{sum('tcp' in m.transports for m in msgs)} tcp)")
    if len(argv) > 2 and argv[1] == "--dump":
        os.makedirs(argv[2], exist_ok=True)
        for i, m in enumerate(msgs):
            with open(os.path.join(argv[2], f"{i:04d}-{m.category}-{m.name}"), "wb") as f:
                f.write(m.data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
