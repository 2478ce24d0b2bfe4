/* The compression stage of a layer build (layer.c), on threads of its own.

   The building thread writes the tar, hashes it (diff_id) and hands its
   bytes over with oci_layer_pipe_write: they are copied into a bounded
   queue of chunks (a few MiB at most) that one consumer thread takes in
   order, compresses, hashes (digest) and writes to the blob's fd. So the
   tar side and the compression side overlap (a build takes the longer of
   the two, not their sum) while the blob's bytes stay those of one
   sequential stream.

   The compressor the consumer drives:
   - threads 0: the bytes a single-threaded build always made (same
     digests): for gzip one zlib raw deflate stream in the gzip header and
     trailer libarchive's gzip filter wrote (the filter made these layers
     until 2026-12-05; the CRC-32 is computed by the building thread so
     that the consumer only deflates), and libzstd's single-threaded
     streaming for zstd (what libarchive's zstd filter and `zstd
     --single-thread --no-check` write, every parameter set here rather
     than left to the filter's defaults); both compress straight into the
     writer's buffers;
   - threads N >= 1, zstd: libzstd's multi-threaded mode with N workers.
     Its streamed output does not depend on the worker count (zstd
     maintainers, facebook/zstd#2238 and #2327: "the multi-threaded output
     is the same for any number of threads" for streaming, which is all we
     do: ZSTD_e_continue, then ZSTD_e_end with no input, never a flush);
   - threads N >= 1, gzip: pigz's block-parallel deflate on N worker
     threads: the stream is cut into OCI_PGZ_BLOCK blocks, each deflated
     raw on its own, primed with the 32 KiB before it as dictionary and
     ended with a sync flush (byte aligned, not final), so the pieces
     concatenate into one deflate stream; an empty final block, the CRC-32
     (crc32_combine of the blocks') and the length close the one gzip
     member. A block's bytes depend only on its data, its dictionary and
     the level, never on which worker made them, so every N >= 1 gives
     the same blob.

   Failures: a consumer or worker failure (a write error, ENOSPC, memory)
   is kept in the pipe's own oci_error and handed to the building thread
   by the next oci_layer_pipe_write or oci_layer_pipe_finish; a failure of
   the building thread (a file that shrank) ends with oci_layer_pipe_free,
   which stops and joins every thread before freeing. After either, the
   pipe writes nothing more to the fd. Every thread the pipe starts runs
   with all signals blocked (a SIGPIPE from a closed pipe fd becomes
   EPIPE, an error), and all are joined before finish or free returns. */
#ifndef OCISPEC_LAYER_PIPE_H
#define OCISPEC_LAYER_PIPE_H

#include <stddef.h>
#include <stdint.h>

#include "ocispec/error.h"
#include "ocispec/hash.h"
#include "ocispec/layer.h"

/* The parallel gzip format's block size: part of the format (changing it
   changes every threads >= 1 gzip digest). pigz's default. */
#define OCI_PGZ_BLOCK (128 * 1024)

typedef struct oci_layer_pipe oci_layer_pipe;

/* Starts the compressor of o (gzip or zstd, o->level; threads as above,
   already checked) writing to fd, and its consumer thread. *out is the
   caller's: oci_layer_pipe_free it. */
int oci_layer_pipe_start(const oci_layer_options *o, int threads, int fd,
                         oci_layer_pipe **out, oci_error *err);

/* Hands len bytes of the tar stream over (copied). OCI_OK, or the
   consumer's failure copied into err. */
int oci_layer_pipe_write(oci_layer_pipe *p, const void *buf, size_t len,
                         oci_error *err);

/* Ends the stream and waits for it to be written: digest ("sha256:...")
   and size of the blob, or the consumer's failure. */
int oci_layer_pipe_finish(oci_layer_pipe *p, char digest[OCI_DIGEST_STRING_MAX],
                          uint64_t *size, oci_error *err);

/* Stops the consumer and workers (the stream is abandoned: nothing more
   is written), joins them and frees p. NULL is a no-op. */
void oci_layer_pipe_free(oci_layer_pipe *p);

#endif
