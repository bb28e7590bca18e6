build/gen/directory.pb-c.o: build/gen/directory.pb-c.c \
 build/gen/directory.pb-c.h
build/gen/directory.pb-c.h:
