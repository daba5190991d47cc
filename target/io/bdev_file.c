// SPDX-License-Identifier: MIT
/*
 * bdev_file: a block device on a regular file or a block device node, driven
 * through the io_uring reactor.
 *
 * Opening decides three things once, with probes that change nothing:
 *   - O_DIRECT: asked for at open and then proven with one aligned read,
 *     because some file systems accept the flag and fail the first I/O with
 *     EINVAL (tmpfs before 6.6, some FUSE/NFS setups). On failure the fd
 *     drops O_DIRECT (fcntl) and a log line says so.
 *   - discard (thin provisioning): for a regular file, a hole is punched
 *     (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) in the range just past the
 *     end of the file, where there is no data to lose and KEEP_SIZE keeps the
 *     size; the file system either does it or answers EOPNOTSUPP. For a block
 *     device, sysfs tells whether it can discard and zero (PUNCH_HOLE on a
 *     block device is "zero, deallocating if possible").
 *   - the size: BLKGETSIZE64 / BLKSSZGET for devices, st_size for files
 *     (created or extended to opts->size; never shrunk).
 *
 * Per request state machine (bdev_io.stage), each step one reactor op:
 *
 *   READ/WRITE:   RW --(short: continue from io->done)--> RW ... --> done
 *                 WRITE with FUA:  RW ... --> FUA_SYNC (fdatasync) --> done
 *   FLUSH:        SYNC (fdatasync) --> done
 *   DISCARD:      PUNCH --> done
 *   WRITE_ZEROES: ZERO_RANGE --(EOPNOTSUPP/EINVAL)--> ZERO_PUNCH --(same)-->
 *                 ZERO_WRITE (64 KiB of a static zero buffer at a time) --> done
 *
 * -EINTR and -EAGAIN results are retried. FUA is write + fdatasync because
 * the reactor API has no per-write RWF_DSYNC; the cost is one more ring op.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "lib/compiler.h"
#include "lib/log.h"
#include "target/io/bdev.h"

enum bdev_file_stage {
	BF_RW = 0,
	BF_FUA_SYNC,
	BF_SYNC,
	BF_PUNCH,
	BF_ZERO_RANGE,
	BF_ZERO_PUNCH,
	BF_ZERO_WRITE,
};

#define BF_ZERO_BUF 65536

struct bdev_file {
	struct bdev bdev;
	int fd;
	bool blkdev;
	bool no_zero_range; /* ZERO_RANGE answered EOPNOTSUPP once: skip it */
	bool no_punch;	    /* PUNCH_HOLE likewise */
};

/* Source of WRITE_ZEROES when the file system cannot zero by itself. */
static uint8_t bdev_file_zeroes[BF_ZERO_BUF] __attribute__((aligned(4096)));

static struct bdev_file *bdev_file_of(struct bdev *b)
{
	return container_of(b, struct bdev_file, bdev);
}

/* Queues the reactor op for io's current stage; 0 or -errno. */
static int bdev_file_step(struct bdev_file *f, struct bdev_io *io)
{
	struct reactor *r = io->reactor;
	uint64_t off = io->offset + io->done;
	uint32_t left = io->len - io->done;
	uint8_t *buf = (uint8_t *)io->buf + io->done;

	switch (io->stage) {
	case BF_RW:
		if (io->op == BDEV_READ)
			return reactor_read(r, &io->rop, f->fd, buf, left, off, io->buf_index);
		return reactor_write(r, &io->rop, f->fd, buf, left, off, io->buf_index);
	case BF_FUA_SYNC:
	case BF_SYNC:
		return reactor_fsync(r, &io->rop, f->fd, true);
	case BF_PUNCH:
	case BF_ZERO_PUNCH:
		return reactor_fallocate(r, &io->rop, f->fd,
					 FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, io->offset,
					 io->len);
	case BF_ZERO_RANGE:
		return reactor_fallocate(r, &io->rop, f->fd,
					 FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, io->offset,
					 io->len);
	case BF_ZERO_WRITE:
		return reactor_write(r, &io->rop, f->fd, bdev_file_zeroes, MIN(left, BF_ZERO_BUF),
				     off, -1);
	}
	return -EINVAL;
}

static void bdev_file_finish(struct bdev_io *io, int res)
{
	io->cb(io, res);
}

/* The next stage of WRITE_ZEROES after the current way was refused. */
static uint8_t bdev_file_zero_fallback(struct bdev_file *f, uint8_t stage)
{
	if (stage == BF_ZERO_RANGE) {
		f->no_zero_range = true;
		if (!f->no_punch && f->bdev.discard_zeroes)
			return BF_ZERO_PUNCH;
	} else {
		f->no_punch = true;
	}
	return BF_ZERO_WRITE;
}

/* Decides what follows a successful step; true when the io is complete. */
static bool bdev_file_advance(struct bdev_io *io, int res, int *err)
{
	switch (io->stage) {
	case BF_RW:
	case BF_ZERO_WRITE:
		if (res == 0) { /* end of file or a device that stopped: never spin */
			*err = -EIO;
			return true;
		}
		io->done += (uint32_t)res;
		if (io->done < io->len)
			return false;
		if (io->op == BDEV_WRITE && (io->flags & BDEV_F_FUA)) {
			io->stage = BF_FUA_SYNC;
			return false;
		}
		return true;
	default:
		return true;
	}
}

static void bdev_file_cb(struct reactor_op *op, int res)
{
	struct bdev_io *io = container_of(op, struct bdev_io, rop);
	struct bdev_file *f = bdev_file_of(io->bdev);
	int err = 0;

	if (res == -EINTR || res == -EAGAIN) {
		err = bdev_file_step(f, io);
		if (err)
			bdev_file_finish(io, err);
		return;
	}
	if (res < 0) {
		if ((res == -EOPNOTSUPP || res == -EINVAL) &&
		    (io->stage == BF_ZERO_RANGE || io->stage == BF_ZERO_PUNCH)) {
			io->stage = bdev_file_zero_fallback(f, io->stage);
			io->done = 0;
			err = bdev_file_step(f, io);
			if (err)
				bdev_file_finish(io, err);
			return;
		}
		bdev_file_finish(io, res);
		return;
	}
	if (bdev_file_advance(io, res, &err)) {
		bdev_file_finish(io, err);
		return;
	}
	err = bdev_file_step(f, io);
	if (err)
		bdev_file_finish(io, err);
}

static int bdev_file_check(const struct bdev_file *f, const struct bdev_io *io)
{
	const struct bdev *b = &f->bdev;

	if (io->op > BDEV_WRITE_ZEROES)
		return -EOPNOTSUPP;
	if (io->op != BDEV_READ && b->read_only)
		return -EROFS;
	if (io->op == BDEV_FLUSH)
		return 0;
	if (io->op == BDEV_DISCARD && !b->can_discard)
		return -EOPNOTSUPP;
	if (io->offset % b->block_size || io->len % b->block_size || !io->len)
		return -EINVAL;
	if (io->offset > b->size || io->len > b->size - io->offset)
		return -ERANGE;
	if ((io->op == BDEV_READ || io->op == BDEV_WRITE) &&
	    (!io->buf || (uintptr_t)io->buf % b->buf_align))
		return -EINVAL;
	return 0;
}

static uint8_t bdev_file_first_stage(const struct bdev_file *f, uint8_t op)
{
	switch (op) {
	case BDEV_FLUSH:
		return BF_SYNC;
	case BDEV_DISCARD:
		return BF_PUNCH;
	case BDEV_WRITE_ZEROES:
		if (!f->no_zero_range)
			return BF_ZERO_RANGE;
		if (!f->no_punch && f->bdev.discard_zeroes)
			return BF_ZERO_PUNCH;
		return BF_ZERO_WRITE;
	default:
		return BF_RW;
	}
}

/* bdev_ops.submit: 0 (io->cb runs later, once) or -errno (nothing queued). */
static int bdev_file_submit(struct bdev *b, struct reactor *r, struct bdev_io *io)
{
	struct bdev_file *f = bdev_file_of(b);
	int err = bdev_file_check(f, io);

	if (err)
		return err;
	io->reactor = r;
	io->done = 0;
	io->stage = bdev_file_first_stage(f, io->op);
	io->rop.cb = bdev_file_cb;
	if (io->op != BDEV_READ && io->op != BDEV_WRITE)
		io->buf_index = -1;
	return bdev_file_step(f, io);
}

/*
 * bdev_ops.map_status: asks the file system where data and holes are
 * (lseek SEEK_DATA/SEEK_HOLE; two system calls, only for GET LBA STATUS).
 * Devices and file systems that cannot tell report everything mapped.
 */
static int bdev_file_map_status(struct bdev *b, uint64_t offset, uint64_t len, uint64_t *run)
{
	struct bdev_file *f = bdev_file_of(b);
	uint64_t bs = b->block_size;
	off_t data, hole;

	*run = len;
	if (f->blkdev)
		return 1;
	data = lseek(f->fd, (off_t)offset, SEEK_DATA);
	if (data < 0)
		return errno == ENXIO ? 0 : 1; /* ENXIO: nothing but hole up to EOF */
	if ((uint64_t)data >= offset + bs) {
		/* A hole covers at least the first whole block. */
		*run = MIN(((uint64_t)data - offset) / bs * bs, len);
		return 0;
	}
	hole = lseek(f->fd, (off_t)offset, SEEK_HOLE);
	if (hole < 0 || (uint64_t)hole <= offset)
		return 1;
	/* A partly written block counts as mapped. */
	*run = MIN(ALIGN_UP((uint64_t)hole - offset, bs), len);
	return 1;
}

static void bdev_file_close(struct bdev *b)
{
	struct bdev_file *f = bdev_file_of(b);

	close(f->fd);
	free(f);
}

static const struct bdev_ops bdev_file_ops = {
	.name = "file",
	.submit = bdev_file_submit,
	.close = bdev_file_close,
	.map_status = bdev_file_map_status,
};

/* ---- opening ---- */

struct bdev_file_open_ctx {
	const char *path;
	const struct bdev_file_opts *opts;
	char *err;
	size_t errlen;
};

static int bdev_file_fail(const struct bdev_file_open_ctx *o, int e, const char *what,
			  const char *hint)
{
	snprintf(o->err, o->errlen, "%s: %s: %s%s%s", o->path, what, strerror(e), hint ? "; " : "",
		 hint ? hint : "");
	return -e;
}

static int bdev_file_open_fd(const struct bdev_file_open_ctx *o, bool *direct, bool *created)
{
	int flags = (o->opts->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	int fd;

	*created = false;
	fd = open(o->path, flags | (*direct ? O_DIRECT : 0));
	if (fd < 0 && errno == EINVAL && *direct) {
		/* The file system refuses O_DIRECT at open (e.g. some FUSE mounts). */
		*direct = false;
		log_notice("bdev %s: O_DIRECT refused at open, using buffered I/O", o->path);
		fd = open(o->path, flags);
	}
	if (fd >= 0 || errno != ENOENT)
		return fd < 0 ? bdev_file_fail(o, errno, "cannot open",
					       "check the path and its permissions")
			      : fd;
	if (o->opts->read_only || !o->opts->size)
		return bdev_file_fail(o, ENOENT, "cannot open",
				      "give a size to create it (and not read-only)");
	fd = open(o->path, flags | O_CREAT | O_EXCL | (*direct ? O_DIRECT : 0), 0600);
	if (fd < 0 && errno == EINVAL && *direct) {
		*direct = false;
		log_notice("bdev %s: O_DIRECT refused at open, using buffered I/O", o->path);
		fd = open(o->path, flags | O_CREAT | O_EXCL, 0600);
	}
	if (fd < 0)
		return bdev_file_fail(o, errno, "cannot create",
				      "check that the directory exists and is writable");
	*created = true;
	return fd;
}

/* Size of a regular file, created or grown to opts->size (never shrunk). */
static int bdev_file_size_reg(const struct bdev_file_open_ctx *o, int fd, const struct stat *st,
			      uint64_t *size)
{
	uint64_t want = o->opts->size;
	uint64_t have = (uint64_t)st->st_size;

	*size = have;
	if (want && have > want) {
		snprintf(o->err, o->errlen,
			 "%s: the file holds %llu bytes, more than the configured size %llu; "
			 "refusing to shrink it (raise the size or leave it unset)",
			 o->path, (unsigned long long)have, (unsigned long long)want);
		return -EINVAL;
	}
	if (want > have) {
		if (o->opts->read_only)
			return bdev_file_fail(o, EROFS, "cannot grow to the configured size",
					      "open it read-write once or leave the size unset");
		if (ftruncate(fd, (off_t)want) < 0)
			return bdev_file_fail(o, errno, "cannot set the file size",
					      "check free space and file size limits");
		if (have)
			log_notice("bdev %s: grown from %llu to %llu bytes", o->path,
				   (unsigned long long)have, (unsigned long long)want);
		*size = want;
	}
	return 0;
}

static int bdev_file_size_blk(const struct bdev_file_open_ctx *o, int fd, uint64_t *size)
{
	uint64_t bytes;
	int lbs;

	if (ioctl(fd, BLKGETSIZE64, &bytes) < 0)
		return bdev_file_fail(o, errno, "BLKGETSIZE64 failed", NULL);
	if (ioctl(fd, BLKSSZGET, &lbs) < 0)
		return bdev_file_fail(o, errno, "BLKSSZGET failed", NULL);
	if ((uint32_t)lbs > o->opts->block_size)
		log_notice("bdev %s: device sectors are %d bytes, larger than block_size %u; "
			   "direct I/O will not work",
			   o->path, lbs, o->opts->block_size);
	if (o->opts->size && o->opts->size > bytes) {
		snprintf(o->err, o->errlen,
			 "%s: the device holds %llu bytes, less than the configured size %llu",
			 o->path, (unsigned long long)bytes, (unsigned long long)o->opts->size);
		return -EINVAL;
	}
	*size = o->opts->size ? o->opts->size : bytes;
	return 0;
}

/* Proves O_DIRECT with one aligned read of one block; drops it when refused. */
static int bdev_file_probe_direct(const struct bdev_file_open_ctx *o, int fd, uint64_t size,
				  bool *direct)
{
	uint32_t bs = o->opts->block_size;
	void *buf;
	ssize_t n;

	if (!*direct)
		return 0;
	if (posix_memalign(&buf, 4096, MAX(bs, 4096u)))
		return bdev_file_fail(o, ENOMEM, "cannot allocate the probe buffer", NULL);
	n = pread(fd, buf, bs, size >= 2ull * bs ? bs : 0);
	free(buf);
	if (n >= 0)
		return 0;
	if (errno != EINVAL)
		return bdev_file_fail(o, errno, "cannot read", "the medium may be failing");
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_DIRECT) < 0)
		return bdev_file_fail(o, errno, "cannot turn O_DIRECT off", NULL);
	*direct = false;
	log_notice("bdev %s: O_DIRECT reads of %u bytes fail with EINVAL, using buffered I/O",
		   o->path, bs);
	return 0;
}

static uint64_t bdev_file_sysfs_u64(dev_t rdev, const char *attr)
{
	/* A partition has no queue/ of its own: its parent's applies. */
	static const char *const dirs[] = {"", "../"};
	unsigned long long v = 0;
	char p[128];

	for (unsigned i = 0; i < ARRAY_SIZE(dirs); i++) {
		FILE *fp;

		snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/%squeue/%s", major(rdev), minor(rdev),
			 dirs[i], attr);
		fp = fopen(p, "re");
		if (!fp)
			continue;
		if (fscanf(fp, "%llu", &v) != 1)
			v = 0;
		fclose(fp);
		break;
	}
	return v;
}

/* Whether punching holes works (see the file comment for why this is safe). */
static bool bdev_file_probe_discard(const struct bdev_file_open_ctx *o, int fd,
				    const struct stat *st, uint64_t size)
{
	struct stat after;

	if (o->opts->read_only)
		return false;
	if (S_ISBLK(st->st_mode))
		return bdev_file_sysfs_u64(st->st_rdev, "discard_max_bytes") &&
		       bdev_file_sysfs_u64(st->st_rdev, "write_zeroes_max_bytes");
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)size,
		      o->opts->block_size) < 0)
		return false;
	return fstat(fd, &after) == 0 && (uint64_t)after.st_size == size;
}

static void bdev_file_name(struct bdev *b, const char *path)
{
	size_t n = strlen(path);

	/* The tail of a long path is the part that tells files apart. */
	if (n >= sizeof(b->name))
		path += n - (sizeof(b->name) - 1);
	snprintf(b->name, sizeof(b->name), "%s", path);
}

static int bdev_file_describe(const struct bdev_file_open_ctx *o, int fd, struct bdev_file *f,
			      bool *direct)
{
	struct stat st;
	uint64_t size = 0;
	int ret;

	if (fstat(fd, &st) < 0)
		return bdev_file_fail(o, errno, "cannot stat", NULL);
	if (S_ISREG(st.st_mode))
		ret = bdev_file_size_reg(o, fd, &st, &size);
	else if (S_ISBLK(st.st_mode))
		ret = bdev_file_size_blk(o, fd, &size);
	else
		return bdev_file_fail(o, EINVAL, "not a regular file or block device", NULL);
	if (ret)
		return ret;
	if (!size || size % o->opts->block_size) {
		snprintf(o->err, o->errlen,
			 "%s: size %llu is not a non-zero multiple of the block size %u", o->path,
			 (unsigned long long)size, o->opts->block_size);
		return -EINVAL;
	}
	ret = bdev_file_probe_direct(o, fd, size, direct);
	if (ret)
		return ret;
	f->fd = fd;
	f->blkdev = S_ISBLK(st.st_mode);
	f->bdev.size = size;
	f->bdev.can_discard = bdev_file_probe_discard(o, fd, &st, size);
	return 0;
}

/*
 * On tmpfs the page cache is the storage: O_DIRECT (accepted since Linux 6.6)
 * saves no copy there, but io_uring cannot complete such reads inline and hands
 * every one to an io-wq worker thread, a wake-up per command. Buffered I/O on
 * tmpfs is as durable (not at all) and measurably faster, so use it.
 */
static int bdev_file_skip_direct_on_tmpfs(const struct bdev_file_open_ctx *o, int fd, bool *direct)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) < 0 || sf.f_type != TMPFS_MAGIC)
		return 0;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_DIRECT) < 0)
		return bdev_file_fail(o, errno, "cannot turn O_DIRECT off", NULL);
	*direct = false;
	log_info("bdev %s: on tmpfs: buffered I/O (O_DIRECT gains nothing there and costs an "
		 "io-wq hand-off per read)",
		 o->path);
	return 0;
}

/*
 * Opens (creating when missing and opts->size > 0) a regular file or block
 * device. 0 or -errno with a sentence in err naming the path, the cause and
 * what to do. Any thread (blocking system calls: start-up only).
 */
int bdev_file_open(struct bdev **out, const char *path, const struct bdev_file_opts *opts,
		   char *err, size_t errlen)
{
	struct bdev_file_open_ctx o = {path, opts, err, errlen};
	bool direct = !opts->no_direct;
	bool created;
	struct bdev_file *f;
	int fd, ret;

	if (opts->block_size != 512 && opts->block_size != 4096) {
		snprintf(err, errlen, "%s: block size %u is not 512 or 4096", path,
			 opts->block_size);
		return -EINVAL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return bdev_file_fail(&o, ENOMEM, "cannot allocate", NULL);
	fd = bdev_file_open_fd(&o, &direct, &created);
	if (fd < 0) {
		free(f);
		return fd;
	}
	ret = bdev_file_describe(&o, fd, f, &direct);
	if (!ret && direct)
		ret = bdev_file_skip_direct_on_tmpfs(&o, fd, &direct);
	if (ret) {
		close(fd);
		if (created)
			unlink(path);
		free(f);
		return ret;
	}
	f->bdev.ops = &bdev_file_ops;
	f->bdev.block_size = opts->block_size;
	f->bdev.buf_align = direct ? MAX(4096u, opts->block_size) : 512;
	f->bdev.read_only = opts->read_only;
	f->bdev.direct = direct;
	f->bdev.discard_zeroes = f->bdev.can_discard;
	f->bdev.volatile_cache = true; /* page cache or the disk's own cache */
	bdev_file_name(&f->bdev, path);
	log_info("bdev %s: %llu bytes, block %u, %s I/O%s", f->bdev.name,
		 (unsigned long long)f->bdev.size, opts->block_size, direct ? "direct" : "buffered",
		 f->bdev.can_discard ? ", discard" : "");
	*out = &f->bdev;
	return 0;
}
