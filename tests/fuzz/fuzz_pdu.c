/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the input is a byte stream of iSCSI PDUs as a connection
 * would receive it. The first byte picks the connection's limits (digests,
 * MaxRecvDataSegmentLength); the rest is cut into PDUs with
 * iscsi_pdu_parse_bhs() and checked with iscsi_pdu_check_digests(), the way
 * the receive path does. Invariants that must hold for any input trap.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "target/iscsi/pdu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint32_t dsl_choices[4] = {8192, 512, 262144, 16777215};

static void fuzz_lun(const uint8_t *raw)
{
	uint8_t again[8];
	uint64_t lun, lun2;

	if (iscsi_lun_decode(raw, &lun))
		return;
	/* Whatever decodes must encode to something that decodes the same. */
	iscsi_lun_encode(lun, again);
	if (iscsi_lun_decode(again, &lun2) || lun2 != lun)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iscsi_pdu_limits lim;
	struct iscsi_pdu_hdr hdr;
	size_t off = 1;

	if (size < 1)
		return 0;
	lim.header_digest = data[0] & 1;
	lim.data_digest = data[0] & 2;
	lim.max_data_len = dsl_choices[(data[0] >> 2) & 3];

	while (off < size) {
		int rc = iscsi_pdu_parse_bhs(data + off, size - off, &lim, &hdr);

		if (rc == -EAGAIN)
			break;
		if (rc < 0) {
			/* A real connection closes here; skip the BHS to reach more PDUs. */
			off += ISCSI_BHS_LEN;
			continue;
		}
		if (rc != ISCSI_BHS_LEN || hdr.total_len < ISCSI_BHS_LEN ||
		    hdr.data_len > lim.max_data_len ||
		    iscsi_pdu_data_offset(&hdr, lim.header_digest) + hdr.data_len > hdr.total_len)
			__builtin_trap();
		fuzz_lun(data + off + 8);
		if (hdr.total_len > size - off)
			break;
		(void)iscsi_pdu_check_digests(data + off, &hdr, &lim);
		off += hdr.total_len;
	}
	return 0;
}
