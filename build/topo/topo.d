build/topo/topo.o: topo/topo.c topo/topo.h keys/keys.h util/util.h
topo/topo.h:
keys/keys.h:
util/util.h:
