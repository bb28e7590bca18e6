build/keys/keys.o: keys/keys.c keys/keys.h util/util.h
keys/keys.h:
util/util.h:
