build/topo/directory.o: topo/directory.c topo/topo.h keys/keys.h \
 build/gen/directory.pb-c.h util/util.h
topo/topo.h:
keys/keys.h:
build/gen/directory.pb-c.h:
util/util.h:
