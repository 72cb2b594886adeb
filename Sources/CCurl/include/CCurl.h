// Typed wrappers for libcurl's variadic functions, which Swift cannot call.
#ifndef HERALD_CCURL_H
#define HERALD_CCURL_H

#include <curl/curl.h>

/// A read, write or header callback: same shape as libcurl's.
typedef size_t (*ccurl_data_callback)(char *buffer, size_t size, size_t count, void *context);

CURLcode ccurl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode ccurl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode ccurl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode ccurl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode ccurl_setopt_callback(CURL *handle, CURLoption option, ccurl_data_callback callback);
CURLcode ccurl_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode ccurl_getinfo_double(CURL *handle, CURLINFO info, double *value);

#endif
