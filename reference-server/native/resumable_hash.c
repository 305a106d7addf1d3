/*
 * resumable_hash: SHA-256 / SHA-512 whose running state can be exported and imported, for upload
 * sessions that continue on another replica or after a restart without re-reading the bytes.
 *
 * The hashing itself is OpenSSL's (SHA256_Update / SHA512_Update, with its SHA-NI / AVX2 assembly),
 * taken from the node binary that loads this addon: Node links OpenSSL in and exports its symbols,
 * and node-gyp compiles against the OpenSSL headers Node ships. Only the public struct fields of
 * SHA256_CTX / SHA512_CTX are read or written (h, Nl/Nh, data, num, md_len).
 *
 * The context lives in a JS-owned Buffer (ctx argument), so JS can copy it with Buffer.from and no
 * finalizer is needed. Exported state = the chaining words, big-endian, then the bytes of the
 * unfinished block; the total byte count is kept by the caller (it fixes the length of that tail).
 *
 * updateAsync hashes an array of buffers on the libuv thread pool, so the event loop keeps
 * receiving and writing while a batch is hashed. The caller must not touch the context until the
 * callback runs (resumable-hash.ts serializes calls per hash).
 *
 * hashWriteAsync does both halves of an upload append in ONE thread-pool job: hash the buffers, then
 * pwritev them to a file at a position. One job per batch instead of a hash job plus a write job per
 * 64 KiB chunk: fewer thread hand-offs (futex wake-ups, eventfd writes), and the bytes are written
 * while they are still in this core's cache from hashing.
 *
 * trimMemory (the one function here that is not about hashing): glibc keeps the memory that freed
 * request-body buffers leave in its per-thread arenas; malloc_trim(0) gives the free pages back to the
 * OS. Called by idle-memory.ts once traffic has paused. A no-op elsewhere (musl, macOS).
 *
 * detachBuffers (not about hashing either): frees request-body chunks the moment they are stored, instead of at
 * V8's next collection. Each chunk the HTTP parser hands out is its own 64 KiB malloc; between two
 * collections a fast upload leaves tens of MiB of them in glibc's heap (bench/README.md, "third
 * pass"). Detaching an ArrayBuffer drops V8's hold on its backing store, which frees it at once when
 * nothing else shares it. Only views that span their whole ArrayBuffer are detached — a slice of a
 * pooled buffer would take its neighbours with it — and the caller guarantees nobody else still reads
 * them (storage/body-chunks.ts).
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <errno.h>
#include <node_api.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#define ALG_SHA256 0
#define ALG_SHA512 1

typedef union {
  SHA256_CTX s256;
  SHA512_CTX s512;
} any_ctx;

#define CHECK(call)                                   \
  do {                                                \
    if ((call) != napi_ok) return throw_last(env);    \
  } while (0)

static napi_value throw_last(napi_env env) {
  const napi_extended_error_info* info = NULL;
  napi_get_last_error_info(env, &info);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, "ERR_RESUMABLE_HASH", info && info->error_message ? info->error_message : "N-API call failed");
  return NULL;
}

static napi_value fail(napi_env env, const char* msg) {
  napi_throw_error(env, "ERR_RESUMABLE_HASH", msg);
  return NULL;
}

/* Reads (ctx Buffer, alg) from argv[0..1]. */
static int get_ctx(napi_env env, napi_value* argv, any_ctx** ctx, int* alg) {
  void* data;
  size_t len;
  int32_t a;
  if (napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok || len < sizeof(any_ctx)) {
    fail(env, "ctx must be a Buffer of ctxSize bytes");
    return 0;
  }
  if (napi_get_value_int32(env, argv[1], &a) != napi_ok || (a != ALG_SHA256 && a != ALG_SHA512)) {
    fail(env, "alg must be 0 (sha256) or 1 (sha512)");
    return 0;
  }
  *ctx = (any_ctx*)data;
  *alg = a;
  return 1;
}

static void do_update(any_ctx* ctx, int alg, const void* data, size_t len) {
  if (alg == ALG_SHA256) SHA256_Update(&ctx->s256, data, len);
  else SHA512_Update(&ctx->s512, data, len);
}

/* init(ctx, alg) */
static napi_value js_init(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  any_ctx* ctx;
  int alg;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return fail(env, "too few arguments (expected 2)");
  if (!get_ctx(env, argv, &ctx, &alg)) return NULL;
  memset(ctx, 0, sizeof(any_ctx));
  if (alg == ALG_SHA256) SHA256_Init(&ctx->s256);
  else SHA512_Init(&ctx->s512);
  return NULL;
}

/* update(ctx, alg, data) — synchronous, for small inputs. */
static napi_value js_update(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  any_ctx* ctx;
  int alg;
  void* data;
  size_t len;
  bool is_typed;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return fail(env, "too few arguments (expected 3)");
  if (!get_ctx(env, argv, &ctx, &alg)) return NULL;
  CHECK(napi_is_typedarray(env, argv[2], &is_typed));
  if (!is_typed) return fail(env, "data must be a Uint8Array");
  CHECK(napi_get_typedarray_info(env, argv[2], NULL, &len, &data, NULL, NULL));
  do_update(ctx, alg, data, len);
  return NULL;
}

/*
 * Reads `chunks` (a JS array of Uint8Array) into iov[0..n): the caller sized iov with chunk_count.
 * Shared by updateAsync and hashWriteAsync. 0 after throwing.
 */
static int chunk_count(napi_env env, napi_value chunks, uint32_t* n) {
  bool is_array = false;
  if (napi_is_array(env, chunks, &is_array) != napi_ok || !is_array || napi_get_array_length(env, chunks, n) != napi_ok) {
    fail(env, "chunks must be an array of Uint8Array");
    return 0;
  }
  return 1;
}

static int read_chunks(napi_env env, napi_value chunks, struct iovec* iov, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    bool is_typed = false;
    napi_typedarray_type type;
    if (napi_get_element(env, chunks, i, &el) != napi_ok || napi_is_typedarray(env, el, &is_typed) != napi_ok || !is_typed ||
        napi_get_typedarray_info(env, el, &type, &iov[i].iov_len, &iov[i].iov_base, NULL, NULL) != napi_ok || type != napi_uint8_array) {
      fail(env, "chunks must be an array of Uint8Array");
      return 0;
    }
  }
  return 1;
}

typedef struct {
  napi_async_work work;
  napi_ref ctx_ref;
  napi_ref chunks_ref; /* the JS array: keeps every chunk alive until complete */
  napi_ref cb_ref;
  any_ctx* ctx;
  int alg;
  size_t count;
  struct iovec parts[];
} job_t;

static void job_execute(napi_env env, void* p) {
  (void)env;
  job_t* job = (job_t*)p;
  for (size_t i = 0; i < job->count; i++) do_update(job->ctx, job->alg, job->parts[i].iov_base, job->parts[i].iov_len);
}

static void job_complete(napi_env env, napi_status status, void* p) {
  job_t* job = (job_t*)p;
  napi_value cb, global, arg;
  napi_get_reference_value(env, job->cb_ref, &cb);
  napi_get_global(env, &global);
  if (status == napi_ok) napi_get_null(env, &arg);
  else {
    napi_value msg;
    napi_create_string_utf8(env, "resumable hash: async update cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &arg);
  }
  napi_delete_reference(env, job->ctx_ref);
  napi_delete_reference(env, job->chunks_ref);
  napi_delete_reference(env, job->cb_ref);
  napi_delete_async_work(env, job->work);
  free(job);
  napi_call_function(env, global, cb, 1, &arg, NULL);
}

/* updateAsync(ctx, alg, chunks: Uint8Array[], cb(err)) — hashes the chunks in order on the thread pool. */
static napi_value js_update_async(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], name;
  any_ctx* ctx;
  int alg;
  uint32_t n;
  napi_valuetype cbt;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) return fail(env, "too few arguments (expected 4)");
  if (!get_ctx(env, argv, &ctx, &alg) || !chunk_count(env, argv[2], &n)) return NULL;
  CHECK(napi_typeof(env, argv[3], &cbt));
  if (cbt != napi_function) return fail(env, "callback must be a function");
  job_t* job = (job_t*)calloc(1, sizeof(job_t) + (size_t)n * sizeof(job->parts[0]));
  if (!job) return fail(env, "out of memory");
  job->ctx = ctx;
  job->alg = alg;
  job->count = n;
  if (!read_chunks(env, argv[2], job->parts, n)) {
    free(job);
    return NULL;
  }
  CHECK(napi_create_reference(env, argv[0], 1, &job->ctx_ref));
  CHECK(napi_create_reference(env, argv[2], 1, &job->chunks_ref));
  CHECK(napi_create_reference(env, argv[3], 1, &job->cb_ref));
  CHECK(napi_create_string_utf8(env, "nitro:resumable-hash", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_async_work(env, NULL, name, job_execute, job_complete, job, &job->work));
  CHECK(napi_queue_async_work(env, job->work));
  return NULL;
}

/* ---- hashWriteAsync ---- */

/* Linux UIO_MAXIOV (IOV_MAX needs _XOPEN_SOURCE); a batch longer than this takes several pwritev calls. */
#define WRITE_IOV_MAX 1024

typedef struct {
  napi_async_work work;
  napi_ref ctx_ref;
  napi_ref chunks_ref;
  napi_ref cb_ref;
  any_ctx* ctx;
  int alg;
  int fd;
  int64_t position;
  int err;        /* errno of a failed pwritev, 0 on success */
  size_t written; /* bytes written before success or failure */
  size_t count;
  struct iovec iov[];
} wjob_t;

static void wjob_execute(napi_env env, void* p) {
  (void)env;
  wjob_t* job = (wjob_t*)p;
  for (size_t i = 0; i < job->count; i++) do_update(job->ctx, job->alg, job->iov[i].iov_base, job->iov[i].iov_len);
  /* pwritev until everything is written: a regular file may take less than asked (a signal, a quota). */
  struct iovec* iov = job->iov;
  size_t left = job->count;
  while (left > 0) {
    int n = left > WRITE_IOV_MAX ? WRITE_IOV_MAX : (int)left;
    ssize_t w = pwritev(job->fd, iov, n, (off_t)(job->position + (int64_t)job->written));
    if (w < 0) {
      if (errno == EINTR) continue;
      job->err = errno;
      return;
    }
    if (w == 0) {
      job->err = EIO;
      return;
    }
    job->written += (size_t)w;
    size_t adv = (size_t)w;
    while (left > 0 && adv >= iov->iov_len) {
      adv -= iov->iov_len;
      iov++;
      left--;
    }
    if (left > 0 && adv > 0) {
      iov->iov_base = (char*)iov->iov_base + adv;
      iov->iov_len -= adv;
    }
  }
}

static void wjob_complete(napi_env env, napi_status status, void* p) {
  wjob_t* job = (wjob_t*)p;
  napi_value cb, global, args[2];
  napi_get_reference_value(env, job->cb_ref, &cb);
  napi_get_global(env, &global);
  napi_create_double(env, (double)job->written, &args[1]);
  if (status != napi_ok) {
    napi_value msg;
    napi_create_string_utf8(env, "resumable hash: hashWrite cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &args[0]);
  } else if (job->err != 0) {
    /* The same shape as a Node fs error: code 'ENOSPC' etc., errno negative, syscall. */
    napi_value msg, code, errnum, syscall;
    char name[64], desc[128], text[224];
    uv_err_name_r(-job->err, name, sizeof(name)); /* the _r forms: no leaked string for an unknown errno */
    uv_strerror_r(-job->err, desc, sizeof(desc));
    snprintf(text, sizeof(text), "%s: %s, pwritev", name, desc);
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
    napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
    napi_create_error(env, code, msg, &args[0]);
    napi_create_int32(env, -job->err, &errnum);
    napi_set_named_property(env, args[0], "errno", errnum);
    napi_create_string_utf8(env, "pwritev", NAPI_AUTO_LENGTH, &syscall);
    napi_set_named_property(env, args[0], "syscall", syscall);
  } else {
    napi_get_null(env, &args[0]);
  }
  napi_delete_reference(env, job->ctx_ref);
  napi_delete_reference(env, job->chunks_ref);
  napi_delete_reference(env, job->cb_ref);
  napi_delete_async_work(env, job->work);
  free(job);
  napi_call_function(env, global, cb, 2, args, NULL);
}

/*
 * hashWriteAsync(ctx, alg, fd, position, chunks: Uint8Array[], cb(err, written)) — on the thread pool:
 * hashes the chunks in order, then writes them to fd at position (pwritev, retried until complete).
 * On a write error the hash has already taken every chunk: the caller restores its own copy.
 */
static napi_value js_hash_write_async(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6], name;
  any_ctx* ctx;
  int alg;
  int32_t fd;
  int64_t position;
  uint32_t n;
  napi_valuetype cbt;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) return fail(env, "too few arguments (expected 6)");
  if (!get_ctx(env, argv, &ctx, &alg)) return NULL;
  if (napi_get_value_int32(env, argv[2], &fd) != napi_ok || fd < 0) return fail(env, "fd must be a file descriptor");
  if (napi_get_value_int64(env, argv[3], &position) != napi_ok || position < 0) return fail(env, "position must be a non-negative integer");
  if (!chunk_count(env, argv[4], &n)) return NULL;
  CHECK(napi_typeof(env, argv[5], &cbt));
  if (cbt != napi_function) return fail(env, "callback must be a function");
  wjob_t* job = (wjob_t*)calloc(1, sizeof(wjob_t) + (size_t)n * sizeof(struct iovec));
  if (!job) return fail(env, "out of memory");
  job->ctx = ctx;
  job->alg = alg;
  job->fd = fd;
  job->position = position;
  job->count = n;
  if (!read_chunks(env, argv[4], job->iov, n)) {
    free(job);
    return NULL;
  }
  /* Only fails when N-API itself does (out of memory): the references taken so far are not released. */
  if (napi_create_reference(env, argv[0], 1, &job->ctx_ref) != napi_ok || napi_create_reference(env, argv[4], 1, &job->chunks_ref) != napi_ok ||
      napi_create_reference(env, argv[5], 1, &job->cb_ref) != napi_ok ||
      napi_create_string_utf8(env, "nitro:hash-write", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, wjob_execute, wjob_complete, job, &job->work) != napi_ok) {
    free(job);
    return throw_last(env);
  }
  if (napi_queue_async_work(env, job->work) != napi_ok) {
    napi_delete_async_work(env, job->work);
    free(job);
    return throw_last(env);
  }
  return NULL;
}

static void put_be32(uint8_t* p, uint32_t v) {
  p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}
static void put_be64(uint8_t* p, uint64_t v) {
  put_be32(p, (uint32_t)(v >> 32)); put_be32(p + 4, (uint32_t)v);
}
static uint32_t get_be32(const uint8_t* p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static uint64_t get_be64(const uint8_t* p) {
  return ((uint64_t)get_be32(p) << 32) | get_be32(p + 4);
}

/* exportState(ctx, alg) → Buffer: 8 chaining words big-endian, then the unfinished block's bytes. */
static napi_value js_export(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  any_ctx* ctx;
  int alg;
  uint8_t* p;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return fail(env, "too few arguments (expected 2)");
  if (!get_ctx(env, argv, &ctx, &alg)) return NULL;
  if (alg == ALG_SHA256) {
    size_t num = ctx->s256.num;
    CHECK(napi_create_buffer(env, 32 + num, (void**)&p, &out));
    for (int i = 0; i < 8; i++) put_be32(p + 4 * i, ctx->s256.h[i]);
    memcpy(p + 32, ctx->s256.data, num);
  } else {
    size_t num = ctx->s512.num;
    CHECK(napi_create_buffer(env, 64 + num, (void**)&p, &out));
    for (int i = 0; i < 8; i++) put_be64(p + 8 * i, ctx->s512.h[i]);
    memcpy(p + 64, ctx->s512.u.p, num);
  }
  return out;
}

/* importState(ctx, alg, state: Buffer, totalBytes: number) — the inverse of exportState. */
static napi_value js_import(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  any_ctx* ctx;
  int alg;
  uint8_t* p;
  size_t len;
  double total_d;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) return fail(env, "too few arguments (expected 4)");
  if (!get_ctx(env, argv, &ctx, &alg)) return NULL;
  CHECK(napi_get_buffer_info(env, argv[2], (void**)&p, &len));
  CHECK(napi_get_value_double(env, argv[3], &total_d));
  if (!(total_d >= 0 && total_d <= 9007199254740991.0)) return fail(env, "total byte count out of range");
  uint64_t total = (uint64_t)total_d;
  memset(ctx, 0, sizeof(any_ctx));
  if (alg == ALG_SHA256) {
    size_t num = (size_t)(total % 64);
    if (len != 32 + num) return fail(env, "state length does not match the byte count");
    for (int i = 0; i < 8; i++) ctx->s256.h[i] = get_be32(p + 4 * i);
    uint64_t bits = total * 8;
    ctx->s256.Nl = (uint32_t)bits;
    ctx->s256.Nh = (uint32_t)(bits >> 32);
    memcpy(ctx->s256.data, p + 32, num);
    ctx->s256.num = (unsigned int)num;
    ctx->s256.md_len = SHA256_DIGEST_LENGTH;
  } else {
    size_t num = (size_t)(total % 128);
    if (len != 64 + num) return fail(env, "state length does not match the byte count");
    for (int i = 0; i < 8; i++) ctx->s512.h[i] = get_be64(p + 8 * i);
    ctx->s512.Nl = total << 3;
    ctx->s512.Nh = total >> 61;
    memcpy(ctx->s512.u.p, p + 64, num);
    ctx->s512.num = (unsigned int)num;
    ctx->s512.md_len = SHA512_DIGEST_LENGTH;
  }
  return NULL;
}

/* digest(ctx, alg) → Buffer; finalizes a copy, so the context can go on. */
static napi_value js_digest(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], out;
  any_ctx* ctx;
  any_ctx copy;
  int alg;
  uint8_t* p;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return fail(env, "too few arguments (expected 2)");
  if (!get_ctx(env, argv, &ctx, &alg)) return NULL;
  memcpy(&copy, ctx, sizeof(copy));
  if (alg == ALG_SHA256) {
    CHECK(napi_create_buffer(env, SHA256_DIGEST_LENGTH, (void**)&p, &out));
    SHA256_Final(p, &copy.s256);
  } else {
    CHECK(napi_create_buffer(env, SHA512_DIGEST_LENGTH, (void**)&p, &out));
    SHA512_Final(p, &copy.s512);
  }
  return out;
}

/* trimMemory() → true when glibc returned memory to the OS. */
static napi_value js_trim_memory(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
#if defined(__GLIBC__)
  int released = malloc_trim(0);
#else
  int released = 0;
#endif
  CHECK(napi_get_boolean(env, released != 0, &out));
  return out;
}

/*
 * detachBuffers(chunks: Uint8Array[]) → bytes freed. Detaches each chunk's ArrayBuffer when the chunk
 * covers all of it; leaves the others (and anything not a Uint8Array) alone.
 */
static napi_value js_detach_buffers(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  uint32_t n;
  double freed = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return fail(env, "too few arguments (expected 1)");
  if (!chunk_count(env, argv[0], &n)) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value el, ab;
    bool is_typed = false, detached = true;
    napi_typedarray_type type;
    size_t len, offset, ab_len;
    if (napi_get_element(env, argv[0], i, &el) != napi_ok || napi_is_typedarray(env, el, &is_typed) != napi_ok || !is_typed) continue;
    if (napi_get_typedarray_info(env, el, &type, &len, NULL, &ab, &offset) != napi_ok || type != napi_uint8_array) continue;
    if (offset != 0 || len == 0) continue;
    if (napi_is_detached_arraybuffer(env, ab, &detached) != napi_ok || detached) continue;
    if (napi_get_arraybuffer_info(env, ab, NULL, &ab_len) != napi_ok || ab_len != len) continue;
    /* not detachable (a WebAssembly memory, say): left to the collector */
    if (napi_detach_arraybuffer(env, ab) != napi_ok) continue;
    freed += (double)len;
  }
  CHECK(napi_create_double(env, freed, &out));
  return out;
}

static napi_value init_module(napi_env env, napi_value exports) {
  napi_value size;
  napi_property_descriptor props[] = {
    {"init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL},
    {"update", NULL, js_update, NULL, NULL, NULL, napi_default, NULL},
    {"updateAsync", NULL, js_update_async, NULL, NULL, NULL, napi_default, NULL},
    {"hashWriteAsync", NULL, js_hash_write_async, NULL, NULL, NULL, napi_default, NULL},
    {"trimMemory", NULL, js_trim_memory, NULL, NULL, NULL, napi_default, NULL},
    {"detachBuffers", NULL, js_detach_buffers, NULL, NULL, NULL, napi_default, NULL},
    {"exportState", NULL, js_export, NULL, NULL, NULL, napi_default, NULL},
    {"importState", NULL, js_import, NULL, NULL, NULL, napi_default, NULL},
    {"digest", NULL, js_digest, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  if (napi_create_uint32(env, (uint32_t)sizeof(any_ctx), &size) != napi_ok) return NULL;
  napi_set_named_property(env, exports, "ctxSize", size);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init_module)
