#ifndef CZLIB_SHIM_H
#define CZLIB_SHIM_H

#include <zlib.h>

/// `inflateInit2` is a macro, which Swift cannot call: this wraps it for gzip-framed input
/// (window bits 16 + MAX_WBITS: expect and check a gzip header and trailer).
static inline int czlib_inflate_init_gzip(z_streamp stream) {
  return inflateInit2(stream, 16 + MAX_WBITS);
}

#endif
