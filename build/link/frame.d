build/link/frame.o: link/frame.c link/link.h keys/keys.h
link/link.h:
keys/keys.h:
