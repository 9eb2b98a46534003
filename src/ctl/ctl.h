/* ctl.h — peertrackctl's pieces outside main.c: printing admin results as
 * aligned tables (render.c), talking to the admin socket (client.c) and the
 * site manifest for the browser client (manifest.c). */
#ifndef PEERTRACK_CTL_H
#define PEERTRACK_CTL_H

#include <stdio.h>
#include <jansson.h>
#include "peertrack/admin.h"

/* Prints a command's result for humans. */
void pt_ctl_render(FILE *f, const pt_admin_cmd *c, const json_t *result);

/* Sends one request line and reads the response line. 0 and *resp, or
 * -errno when the socket cannot be reached or answers garbage (err set). */
int pt_ctl_call(const char *socket_path, const json_t *request, json_t **resp, char *err,
                size_t errlen);

/* `peertrackctl manifest DIR [--prefix URL] [-o FILE]` (manifest.c): a local
 * command, no daemon involved. Returns the process exit status. */
int pt_ctl_manifest(int argc, char **argv);

#endif
