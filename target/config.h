/* SPDX-License-Identifier: MIT */
/*
 * The target's settings, however they were given (command line or INI file).
 * Plain data: clusterd/config.c fills it, the iSCSI and SCSI layers read it.
 */
#ifndef TARGET_CONFIG_H
#define TARGET_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define TGT_NAME_MAX	224 /* iSCSI names are at most 223 bytes (RFC 7143 4.2.7.1) */
#define TGT_MAX_PORTALS 16
#define TGT_MAX_LUNS	64
#define TGT_MAX_ALLOW	64
#define TGT_CHAP_MAX	256
#define TGT_PATH_MAX	4096

struct tgt_portal {
	char addr[64];	      /* numeric IPv4 or IPv6 address, no brackets */
	uint16_t port;	      /* default 3260 */
	uint16_t tpgt;	      /* iSCSI target portal group tag */
	uint16_t rel_port_id; /* SCSI relative target port id (cluster-unique), >= 1 */
};

struct tgt_lun {
	char path[TGT_PATH_MAX];
	uint64_t size;	     /* bytes; 0: use the existing file's size */
	uint32_t block_size; /* 512 or 4096 */
	bool read_only;
	bool no_direct;
	uint64_t lu_id; /* stable id (NAA, serial); 0 until derived */
};

struct tgt_chap {
	bool enabled;
	char user[TGT_CHAP_MAX];
	char secret[TGT_CHAP_MAX];
	bool mutual;
	char mutual_user[TGT_CHAP_MAX];
	char mutual_secret[TGT_CHAP_MAX];
};

/* iSCSI operational values we offer (RFC 7143 13). */
struct tgt_iscsi_opts {
	uint32_t max_recv_dsl; /* MaxRecvDataSegmentLength we declare */
	uint32_t max_burst;    /* MaxBurstLength */
	uint32_t first_burst;  /* FirstBurstLength */
	bool immediate_data;
	bool initial_r2t;
	uint16_t max_outstanding_r2t;
	uint16_t default_time2wait;
	uint16_t default_time2retain;
	uint32_t queue_depth;	  /* commands per session (CmdSN window) */
	uint32_t max_sessions;	  /* whole target */
	uint32_t nop_interval_ms; /* target NOP-In ping after this idle time; 0 off */
	uint32_t nop_timeout_ms;  /* close the connection when the ping is unanswered */
	uint32_t login_timeout_ms;
};

struct tgt_config {
	char iqn[TGT_NAME_MAX];
	char alias[TGT_NAME_MAX];
	struct tgt_portal portals[TGT_MAX_PORTALS];
	unsigned nportals;
	struct tgt_lun luns[TGT_MAX_LUNS];
	unsigned nluns;
	struct tgt_chap chap;
	char allow[TGT_MAX_ALLOW][TGT_NAME_MAX]; /* initiator names; none: everyone */
	unsigned nallow;
	unsigned reactors;
	/* Cluster mode: the other node's portals, which SendTargets lists too (an
	 * initiator discovering through either node learns every path) but this
	 * node does not listen on. */
	struct tgt_portal peer_portals[TGT_MAX_PORTALS];
	unsigned npeer_portals;
	/* Cluster mode: ALUA tables come from clusterd; no standalone default. */
	bool alua_external;
	struct tgt_iscsi_opts iscsi;
	bool debug;
};

/* Fills *c with the defaults (documented in clusterd --help). */
void tgt_config_defaults(struct tgt_config *c);

#endif
