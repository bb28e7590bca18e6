build/gen/link.pb-c.o: build/gen/link.pb-c.c build/gen/link.pb-c.h \
 build/gen/routed.pb-c.h
build/gen/link.pb-c.h:
build/gen/routed.pb-c.h:
