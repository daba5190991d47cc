/* SPDX-License-Identifier: MIT */
/*
 * Runs a libFuzzer target without libFuzzer: calls LLVMFuzzerTestOneInput()
 * on every regular file in each directory (or file) named on the command
 * line. Built with gcc and ASan+UBSan by `make tests`, run by `make check`
 * to replay the committed corpora. A sanitizer report aborts the process, so
 * any crash makes the exit status non-zero; unreadable inputs do too.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long len;
	int rc = -1;

	if (!f)
		return -1;
	if (fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		goto out;
	/* One spare byte so an empty file still gets a valid pointer. */
	buf = malloc((size_t)len + 1);
	if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len)
		goto out;
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	rc = 0;
out:
	free(buf);
	fclose(f);
	return rc;
}

static int replay_dir(const char *dir, unsigned *count)
{
	struct dirent *de;
	char path[4096];
	struct stat st;
	int bad = 0;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		if (replay_file(path)) {
			fprintf(stderr, "replay: cannot read %s\n", path);
			bad = 1;
			continue;
		}
		(*count)++;
	}
	closedir(d);
	return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
	int status = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		unsigned n = 0;

		if (stat(argv[i], &st)) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			status = 1;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &n))
				status = 1;
		} else if (replay_file(argv[i]) == 0) {
			n = 1;
		} else {
			status = 1;
		}
		printf("replayed %u inputs from %s\n", n, argv[i]);
	}
	return status;
}
