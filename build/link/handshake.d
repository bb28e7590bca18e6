build/link/handshake.o: link/handshake.c link/link.h keys/keys.h \
 build/gen/link.pb-c.h build/gen/routed.pb-c.h util/util.h
link/link.h:
keys/keys.h:
build/gen/link.pb-c.h:
build/gen/routed.pb-c.h:
util/util.h:
