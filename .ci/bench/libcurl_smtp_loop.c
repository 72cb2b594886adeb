// The libcurl ceiling for .ci/bench/smtp.sh: N threads, each one easy handle reused for
// every message (as Herald does), sending a fixed 1,600-byte message; no composing, no pipeline.
// Usage: libcurl_smtp_loop PORT THREADS MESSAGES
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
static const char *msg;
static size_t msglen;
static int port, per;
struct src { size_t off; };
static size_t rd(char *b, size_t s, size_t n, void *u) { struct src *x = u; size_t left = msglen - x->off; size_t c = left < s*n ? left : s*n; memcpy(b, msg + x->off, c); x->off += c; return c; }
static void *worker(void *arg) {
  CURL *h = curl_easy_init(); char url[64]; sprintf(url, "smtp://127.0.0.1:%d/shop.example.com", port);
  curl_easy_setopt(h, CURLOPT_URL, url); curl_easy_setopt(h, CURLOPT_UPLOAD, 1L); curl_easy_setopt(h, CURLOPT_MAIL_FROM, "<a@b.c>");
  struct curl_slist *r = curl_slist_append(NULL, "<c@d.e>"); curl_easy_setopt(h, CURLOPT_MAIL_RCPT, r); curl_easy_setopt(h, CURLOPT_READFUNCTION, rd);
  for (int i = 0; i < per; i++) { struct src s = {0}; curl_easy_setopt(h, CURLOPT_READDATA, &s); CURLcode c = curl_easy_perform(h); if (c) { printf("err %d\n", c); break; } }
  return NULL;
}
int main(int argc, char **argv) {
  port = atoi(argv[1]); int threads = atoi(argv[2]); per = atoi(argv[3]) / threads;
  static char buf[1600]; memset(buf, 'x', sizeof buf); memcpy(buf, "Subject: x\r\n\r\n", 14); buf[1598]='\r'; buf[1599]='\n'; msg = buf; msglen = 1600;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
  pthread_t t[64]; for (int i = 0; i < threads; i++) pthread_create(&t[i], 0, worker, 0); for (int i = 0; i < threads; i++) pthread_join(t[i], 0);
  clock_gettime(CLOCK_MONOTONIC, &b); double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
  printf("%d threads: %.0f msg/s\n", threads, per * threads / s);
}
