// The one way Doorstep code includes asio: `#include "doorstep/sync/asio.h"`,
// never <asio.hpp> directly.
//
// Why: asio's config (asio/detail/config.hpp) decides whether to allocate
// handler memory with std::aligned_alloc/std::free or with operator
// new/delete by testing _GLIBCXX_HAVE_ALIGNED_ALLOC, which only a libstdc++
// header defines. A file that included <asio.hpp> before any standard header
// got operator new/delete, the others aligned_alloc/free: two definitions of
// the inline asio::aligned_new/aligned_delete in one program (an ODR
// violation), so memory from one was freed by the other. AddressSanitizer
// reported it as an alloc-dealloc mismatch (scripts/test-sanitize). Including
// a standard header first makes every file make the same choice.
#ifndef DOORSTEP_SYNC_ASIO_H_
#define DOORSTEP_SYNC_ASIO_H_

#include <cstddef>  // defines _GLIBCXX_HAVE_ALIGNED_ALLOC before asio looks

#include <asio.hpp>

#if defined(_GLIBCXX_HAVE_ALIGNED_ALLOC) && !defined(ASIO_HAS_STD_ALIGNED_ALLOC)
#error "<asio.hpp> was included before doorstep/sync/asio.h in this file: include only the latter"
#endif

#endif  // DOORSTEP_SYNC_ASIO_H_
