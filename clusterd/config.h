/* SPDX-License-Identifier: MIT */
/*
 * clusterd's configuration front end: command line (getopt_long) and INI file
 * (inih) into a struct tgt_config, then validation and derivation of what the
 * admin did not give (portal group tags, relative port ids, LU ids).
 *
 * Everything here runs on the main thread at start-up, before any other thread
 * exists: it uses getopt's globals and tunes inih's globals for the duration of
 * one call. None of it is on the I/O path.
 *
 * The normal start:
 *
 *	struct clusterd_opts *o = calloc(1, sizeof(*o));   (struct tgt_config is large)
 *	if (config_parse_args(o, argc, argv, err, sizeof(err)))  -> print err, CONFIG_EXIT_USAGE
 *	if (o->help)    { config_print_help(stdout, argv[0]); exit 0; }
 *	if (o->version) { print CLUSTERD_VERSION; exit 0; }
 *	if (config_finalize(&o->tgt, err, sizeof(err)))           -> print err, CONFIG_EXIT_RUN
 *	if (o->check_config) { config_print(stdout, &o->tgt, false); exit 0; }
 *
 * config_parse_args() already reads the file named by -c or --check-config
 * (file first, then the rest of the command line on top of it): do not call
 * config_load_ini() again for o->config_file.
 */
#ifndef CLUSTERD_CONFIG_H
#define CLUSTERD_CONFIG_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "target/config.h"

/* Longest INI line we accept, '\n' included (paths may be up to TGT_PATH_MAX). */
#define CONFIG_INI_LINE_MAX (TGT_PATH_MAX + 256)

/* Exit statuses documented in --help and clusterd(8). */
#define CONFIG_EXIT_OK	  0 /* clean stop, or --help/--version/--check-config succeeded */
#define CONFIG_EXIT_RUN	  1 /* config_finalize() failed, or the target failed at run time */
#define CONFIG_EXIT_USAGE 2 /* config_parse_args() failed: bad option, value or file */

struct clusterd_opts {
	bool standalone;	  /* --standalone */
	const char *config_file;  /* -c FILE (points into argv) */
	const char *check_config; /* --check-config FILE (points into argv) */
	bool help;
	bool version;
	bool debug; /* -d, or debug = yes in [target]; mirrors tgt.debug */
	struct tgt_config tgt;
};

/*
 * The long options config_parse_args() accepts, ending with a zeroed entry.
 * Exported so tests (and --help) can check that every one is documented.
 */
extern const struct option config_long_options[];

/*
 * Parses the command line into *o: tgt_config_defaults(), then the file of -c
 * or --check-config when one is given, then every other option on top of it.
 * A scalar option replaces the file's value; the first --portal, --lun, --allow
 * or --chap replaces the file's whole list of that kind. With -h or -V nothing
 * else is parsed or loaded. Does not finalize.
 * Returns 0, or -EINVAL (bad command line or file contents) / -ENOENT / other
 * -errno (file unreadable) with a one-line message in err naming the option (or
 * FILE:LINE and key) and what is wrong. Main thread only (uses getopt globals).
 */
int config_parse_args(struct clusterd_opts *o, int argc, char **argv, char *err, size_t errlen);

/*
 * Adds the settings of an INI file to *c (call tgt_config_defaults() first):
 * [target] and [chap] keys replace values, each [portal] and [lun] section
 * appends one portal or LUN, [acl] allow = lines append names.
 * Returns 0; -EINVAL with "FILE:LINE: key 'x' in [section]: problem" (or a
 * section-level "FILE:LINE: ..." message); -ENOENT or another -errno with
 * "FILE: cannot open: reason". *c may be partly filled on error.
 * Main thread only (tunes inih's globals during the call).
 */
int config_load_ini(struct tgt_config *c, const char *path, char *err, size_t errlen);

/*
 * Validates a complete configuration (however it was filled) and derives what
 * is left open: tpgt 1 for portals without one, relative port ids 1..N in
 * portal order for those without one, block size 512, LU ids by
 * config_lu_id_derive(). Requires a target name, at least one portal and at
 * least one LUN. Returns 0 or -EINVAL with a one-line message. Any thread.
 */
int config_finalize(struct tgt_config *c, char *err, size_t errlen);

/* Writes the --help text (a short man page). Any thread. */
void config_print_help(FILE *f, const char *prog);

/*
 * Writes *c as an INI file that config_load_ini() reads back to the same
 * config, with the derived values spelled out (for --check-config). CHAP
 * secrets are written only when show_secrets; otherwise a comment says their
 * length. Any thread.
 */
void config_print(FILE *f, const struct tgt_config *c, bool show_secrets);

/*
 * The LU id used when none is configured: 64-bit FNV-1a over the bytes of
 * "<target name>/<LUN number in decimal>", e.g. "iqn.2026-01.org.example:storage/0";
 * a result of 0 becomes 1. Depends on nothing node-local (not the path), so
 * every node serving the same target derives the same id.
 */
uint64_t config_lu_id_derive(const char *target_name, unsigned lun);

/*
 * Helpers shared by the command line and the INI reader, exported for tests.
 * Each returns 0, or -EINVAL with the problem (without the option or key name)
 * in why.
 */
/* Bytes: decimal digits with an optional K, M, G or T suffix (powers of 1024). */
int config_parse_size(const char *s, uint64_t *out, char *why, size_t whylen);
/* yes/no, true/false, on/off, 1/0 (any case). */
int config_parse_bool(const char *s, bool *out, char *why, size_t whylen);
/* Milliseconds: N, Nms or Ns. */
int config_parse_ms(const char *s, uint32_t *out, char *why, size_t whylen);
/* "A.B.C.D[:PORT]", "[IPv6][:PORT]"; port 3260 when not given. */
int config_parse_portal(const char *s, struct tgt_portal *p, char *why, size_t whylen);
/* An iSCSI name: iqn.YYYY-MM.reversed.domain[:id], eui.<16 hex>, naa.<16|32 hex>. */
int config_check_name(const char *name, char *why, size_t whylen);

/*
 * Pieces of the standalone file's vocabulary, exported for the cluster file
 * (clusterd/cluster_config.c), whose [iscsi], [chap], [acl] and [lun] sections
 * take the same keys. The setters return 0, -ENOENT for a key the section does
 * not have, or -EINVAL with the problem in why. Any thread.
 */
/* A key of the file section "target" (iqn, alias, debug, tuning keys), "chap" or "acl". */
int config_section_set_key(struct tgt_config *c, const char *section, const char *key,
			   const char *val, char *why, size_t whylen);
/* What a whole section must satisfy once all its keys are read ([chap]); 0 or -EINVAL. */
int config_section_check(struct tgt_config *c, const char *section, char *why, size_t whylen);
/* A [lun] key: path, size, blocksize, read_only, direct, id. */
int config_lun_set_key(struct tgt_lun *l, const char *key, const char *val, char *why,
		       size_t whylen);
/* What one LUN must satisfy on its own (absolute path, block size, size); 0 or -EINVAL. */
int config_lun_check(const struct tgt_lun *l, char *why, size_t whylen);
/* "ADDR:PORT", IPv6 in brackets. */
void config_format_portal(const struct tgt_portal *p, char *buf, size_t cap);
/* Bytes with the largest exact K/M/G/T suffix ("1G", "1536K", "1000"). */
void config_format_size(uint64_t v, char *buf, size_t cap);
/* config_print()'s pieces: the tuning keys as "key = value" lines; the [chap] and [acl] sections. */
void config_print_tuning(FILE *f, const struct tgt_config *c);
void config_print_access(FILE *f, const struct tgt_config *c, bool show_secrets);

/*
 * Shared by the standalone and the cluster parsers. config_fail() formats into
 * buf (when len > 0) and returns -EINVAL. config_copy_str() copies val into
 * dst zero-filled (equal configs compare equal byte for byte), or returns
 * -EINVAL with "longer than N bytes" in why. config_str_has_ctrl(): any
 * control character. Any thread.
 */
int config_fail(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int config_copy_str(char *dst, size_t cap, const char *val, char *why, size_t n);
bool config_str_has_ctrl(const char *s);

#endif
