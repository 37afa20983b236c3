/* ssl-conn-mem.c — heap bytes OpenSSL keeps per server connection after a TLS 1.3 handshake,
 * with palaverd's SSL_CTX settings (SSL_MODE_RELEASE_BUFFERS, partial writes), measured with
 * mallinfo2 over N in-memory handshakes (the memory BIOs are replaced by empty ones before
 * measuring, the clients freed). Used for docs/performance.md ("Memory per idle connection").
 * Build and run:  cd bench/lib && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
 *   -keyout key.pem -out cert.pem -days 1 -subj /CN=localhost && cc -O1 -o /tmp/ssl-conn-mem ssl-conn-mem.c \
 *   -lssl -lcrypto && /tmp/ssl-conn-mem 0      (mode bits: 1 no tickets, 2 no session cache, 4 ChaCha20)
 * TRACE=1 also lists what the last server SSL keeps, allocation by allocation (size, OpenSSL
 * source file:line), traced through CRYPTO_set_mem_functions. */
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* TRACE=1: the allocations OpenSSL makes while `tracing` is set, those not freed again. */
typedef struct { void* p; size_t n; const char* file; int line; } Alloc;
static Alloc traced[100000]; static int ntraced; static int tracing;
static void note(void* p, size_t n, const char* file, int line) {
  if (tracing && p && ntraced < 100000) { traced[ntraced].p = p; traced[ntraced].n = n; traced[ntraced].file = file; traced[ntraced].line = line; ntraced++; }
}
static void forget(void* p) { for (int i = 0; p && i < ntraced; i++) if (traced[i].p == p) traced[i].p = NULL; }
static void* trace_malloc(size_t n, const char* file, int line) { void* p = malloc(n); note(p, n, file, line); return p; }
static void* trace_realloc(void* q, size_t n, const char* file, int line) { forget(q); void* p = realloc(q, n); note(p, n, file, line); return p; }
static void trace_free(void* p, const char* file, int line) { (void)file; (void)line; forget(p); free(p); }
static size_t used(void){ struct mallinfo2 m = mallinfo2(); return m.uordblks + m.hblkhd; }
static void pump(SSL* c, SSL* s, BIO* cb, BIO* sb) {
  char buf[65536];
  for (int i = 0; i < 50; i++) {
    SSL_do_handshake(c); SSL_do_handshake(s);
    int n;
    while ((n = BIO_read(cb, buf, sizeof buf)) > 0) BIO_write(sb, buf, n);
    while ((n = BIO_read(sb, buf, sizeof buf)) > 0) BIO_write(cb, buf, n);
    if (SSL_is_init_finished(c) && SSL_is_init_finished(s)) break;
  }
  /* server reads (nothing), client reads tickets */
  SSL_read(s, buf, sizeof buf); SSL_read(c, buf, sizeof buf);
  int n; while ((n = BIO_read(sb, buf, sizeof buf)) > 0) BIO_write(cb, buf, n);
  SSL_read(c, buf, sizeof buf);
}
int main(int argc, char** argv) {
  int trace = getenv("TRACE") != NULL;
  if (trace) CRYPTO_set_mem_functions(trace_malloc, trace_realloc, trace_free);
  int N = trace ? 200 : 2000; int mode = argc > 1 ? atoi(argv[1]) : 0;
  SSL_CTX* sctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate_file(sctx, "cert.pem", SSL_FILETYPE_PEM);
  SSL_CTX_use_PrivateKey_file(sctx, "key.pem", SSL_FILETYPE_PEM);
  SSL_CTX_set_mode(sctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(sctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (mode & 1) SSL_CTX_set_num_tickets(sctx, 0);
  if (mode & 2) SSL_CTX_set_session_cache_mode(sctx, SSL_SESS_CACHE_OFF);
  if (mode & 4) SSL_CTX_set_ciphersuites(sctx, "TLS_CHACHA20_POLY1305_SHA256");
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_OFF);
  SSL** ss = calloc(N, sizeof(SSL*)); SSL** cs = calloc(N, sizeof(SSL*));
  for (int i = 0; i < 10; i++) { /* warm */ }
  size_t before_s = 0, total_s = 0;
  for (int i = 0; i < N; i++) {
    SSL* c = SSL_new(cctx);
    tracing = trace && i == N - 1; SSL* s = SSL_new(sctx); tracing = 0;
    BIO *cb, *sb; BIO_new_bio_pair(&cb, 0, &sb, 0);
    /* use memory bios instead: */
    BIO* c_in = BIO_new(BIO_s_mem()); BIO* c_out = BIO_new(BIO_s_mem());
    BIO* s_in = BIO_new(BIO_s_mem()); BIO* s_out = BIO_new(BIO_s_mem());
    BIO_free(cb); BIO_free(sb);
    SSL_set_bio(c, c_in, c_out); SSL_set_bio(s, s_in, s_out);
    SSL_set_connect_state(c); SSL_set_accept_state(s);
    char buf[65536]; int n;
    for (int k = 0; k < 20; k++) {
      SSL_do_handshake(c);
      while ((n = BIO_read(c_out, buf, sizeof buf)) > 0) BIO_write(s_in, buf, n);
      tracing = trace && i == N - 1; SSL_do_handshake(s); tracing = 0;
      while ((n = BIO_read(s_out, buf, sizeof buf)) > 0) BIO_write(c_in, buf, n);
      if (SSL_is_init_finished(c) && SSL_is_init_finished(s)) break;
    }
    SSL_read(s, buf, sizeof buf);
    while ((n = BIO_read(s_out, buf, sizeof buf)) > 0) BIO_write(c_in, buf, n);
    SSL_read(c, buf, sizeof buf);
    while ((n = BIO_read(c_out, buf, sizeof buf)) > 0) BIO_write(s_in, buf, n);
    tracing = trace && i == N - 1; SSL_read(s, buf, sizeof buf); tracing = 0;
    if (!SSL_is_init_finished(s)) { fprintf(stderr, "handshake failed\n"); ERR_print_errors_fp(stderr); return 1; }
    SSL_set_bio(s, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    if (getenv("FREEBUF")) SSL_free_buffers(s);
    ss[i] = s; cs[i] = c;
  }
  /* measure: free all clients, then server-side heap */
  for (int i = 0; i < N; i++) SSL_free(cs[i]);
  if (trace) {
    size_t total = 0;
    for (int i = 0; i < ntraced; i++) if (traced[i].p) { total += traced[i].n; printf("%6zu %s:%d\n", traced[i].n, traced[i].file, traced[i].line); }
    printf("the last server SSL keeps %zu bytes in %s\n", total, "the allocations above (requested sizes)");
  }
  malloc_trim(0);
  size_t with = used();
  for (int i = 0; i < N; i++) SSL_free(ss[i]);
  malloc_trim(0);
  size_t without = used();
  printf("mode=%d server SSL after handshake: %zu bytes each (%s)\n", mode, (with - without) / N, SSL_get_version(ss[0]) ? "" : "");
  return 0;
}
