build/gen/routed.pb-c.o: build/gen/routed.pb-c.c build/gen/routed.pb-c.h
build/gen/routed.pb-c.h:
