/* SPDX-License-Identifier: MIT */
/*
 * The human view of clusterd's status document (`clusterctl status`) and of
 * its events (`clusterctl events --text`). The document's schema is in
 * docs/clusterctl.8.md; the renderer takes what is there, shows "?" for what
 * is missing and never fails on unexpected members or types, so a newer
 * clusterd still renders with an older clusterctl.
 *
 * Pure: data in, text out (no clock, no environment), so the output is the
 * same for the same document, which the golden tests rely on.
 */
#ifndef CLUSTERD_STATUS_TEXT_H
#define CLUSTERD_STATUS_TEXT_H

struct json_object;

/*
 * Renders the status document DOC as text into *out (malloc'd, NUL-terminated,
 * ends with a newline; the caller frees it). Returns 0 or -ENOMEM.
 * Thread: any.
 */
int status_text_render(struct json_object *doc, char **out);

/*
 * Renders one event as a single line ("TIME TYPE: MESSAGE", or the event's
 * other members as key=value when it has no message) into *out, newline
 * included. Returns 0 or -ENOMEM. Thread: any.
 */
int status_text_event(struct json_object *ev, char **out);

#endif
