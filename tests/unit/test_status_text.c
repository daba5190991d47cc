/* SPDX-License-Identifier: MIT */
/*
 * Golden renderings of status documents (clusterd/status_text.c): a healthy
 * cluster, one node fenced, fencing failing (I/O frozen, with a hint), a
 * planned move in progress while syncing, quorum lost, and documents that
 * are empty or have wrong types (rendered with "?", never a crash). Then the
 * one-line event rendering used by `clusterctl events --text`.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <json-c/json.h>
#include "clusterd/status_text.h"

/* The goldens keep one rendered line per source line. */
/* clang-format off */
static const char doc_normal[] =
	"{\"version\": 1, \"cluster\": \"demo\", \"local_node\": 1, \"phase\": \"synced\""
	", \"epoch\": 3, \"quorate\": true, \"quorum\": {\"expected_votes\": 2"
	", \"total_votes\": 2, \"quorum\": 1, \"flags\": [\"Quorate\", \"TwoNode\""
	", \"WaitForAll\"]}, \"nodes\": [{\"id\": 1, \"name\": \"node1\", \"state\": \"online\""
	", \"online\": true, \"fenced\": false, \"standby\": false}, {\"id\": 2"
	", \"name\": \"node2\", \"state\": \"online\", \"online\": true, \"fenced\": false"
	", \"standby\": false}], \"luns\": [{\"name\": \"lun0\", \"ao_node\": 1"
	", \"alua_version\": 4, \"tpgs\": [{\"id\": 1, \"node\": 1, \"state\": \"ao\""
	", \"ports\": [{\"id\": 1, \"portal\": \"10.0.0.1:3260\"}, {\"id\": 2"
	", \"portal\": \"10.1.0.1:3260\"}]}, {\"id\": 2, \"node\": 2, \"state\": \"ano\""
	", \"ports\": [{\"id\": 3, \"portal\": \"10.0.0.2:3260\"}, {\"id\": 4"
	", \"portal\": \"10.1.0.2:3260\"}]}]}]"
	", \"sessions\": [{\"initiator\": \"iqn.2024-01.test:client\""
	", \"isid\": \"400001370000\", \"tsih\": 1, \"node\": 1, \"portal\": \"10.0.0.1:3260\"}"
	", {\"initiator\": \"iqn.2024-01.test:client\", \"isid\": \"400001370001\", \"tsih\": 2"
	", \"node\": 2, \"portal\": \"10.0.0.2:3260\"}], \"fence_history\": []"
	", \"failed_actions\": []}";

static const char text_normal[] =
	"Cluster: demo\n"
	"Local:   node1 (1)\n"
	"Phase:   synced, epoch 3\n"
	"Quorum:  yes, 2 of 2 votes (quorum 1), flags: Quorate TwoNode WaitForAll\n"
	"\n"
	"Nodes (2):\n"
	"  Id  Name   State\n"
	"  1   node1  Online  local\n"
	"  2   node2  Online\n"
	"\n"
	"LUN lun0: AO node1\n"
	"  TPG  Node   State                 Ports\n"
	"  1    node1  active/optimized      1 (10.0.0.1:3260), 2 (10.1.0.1:3260)\n"
	"  2    node2  active/non-optimized  3 (10.0.0.2:3260), 4 (10.1.0.2:3260)\n"
	"\n"
	"Sessions (2):\n"
	"  Initiator                ISID          TSIH  Node   Portal\n"
	"  iqn.2024-01.test:client  400001370000  1     node1  10.0.0.1:3260\n"
	"  iqn.2024-01.test:client  400001370001  2     node2  10.0.0.2:3260\n"
	"\n"
	"Fence history: none\n"
	"\n"
	"Failed actions: none\n";

static const char doc_fenced[] =
	"{\"version\": 1, \"cluster\": \"demo\", \"local_node\": 1, \"phase\": \"synced\""
	", \"epoch\": 5, \"quorate\": true, \"quorum\": {\"expected_votes\": 2"
	", \"total_votes\": 1, \"quorum\": 1, \"flags\": [\"Quorate\", \"TwoNode\""
	", \"WaitForAll\"]}, \"nodes\": [{\"id\": 1, \"name\": \"node1\", \"state\": \"online\""
	", \"online\": true, \"fenced\": false, \"standby\": false}, {\"id\": 2"
	", \"name\": \"node2\", \"state\": \"fenced\", \"online\": false, \"fenced\": true"
	", \"standby\": false}], \"luns\": [{\"name\": \"lun0\", \"ao_node\": 1"
	", \"tpgs\": [{\"id\": 1, \"node\": 1, \"state\": \"ao\", \"ports\": [{\"id\": 1"
	", \"portal\": \"10.0.0.1:3260\"}, {\"id\": 2, \"portal\": \"10.1.0.1:3260\"}]}"
	", {\"id\": 2, \"node\": 2, \"state\": \"unavailable\", \"ports\": [{\"id\": 3"
	", \"portal\": \"10.0.0.2:3260\"}, {\"id\": 4, \"portal\": \"10.1.0.2:3260\"}]}]}]"
	", \"sessions\": [{\"initiator\": \"iqn.2024-01.test:client\""
	", \"isid\": \"400001370000\", \"tsih\": 1, \"node\": 1, \"portal\": \"10.0.0.1:3260\"}]"
	", \"fence_history\": [{\"target\": 2, \"by\": 1, \"agent\": \"fence_netns\""
	", \"action\": \"off\", \"result\": \"ok\", \"started\": \"2024-05-01T12:00:01.120Z\""
	", \"finished\": \"2024-05-01T12:00:01.532Z\", \"duration_ms\": 412}]"
	", \"failed_actions\": []}";

static const char text_fenced[] =
	"Cluster: demo\n"
	"Local:   node1 (1)\n"
	"Phase:   synced, epoch 5\n"
	"Quorum:  yes, 1 of 2 votes (quorum 1), flags: Quorate TwoNode WaitForAll\n"
	"\n"
	"Nodes (2):\n"
	"  Id  Name   State\n"
	"  1   node1  Online  local\n"
	"  2   node2  Fenced\n"
	"\n"
	"LUN lun0: AO node1\n"
	"  TPG  Node   State             Ports\n"
	"  1    node1  active/optimized  1 (10.0.0.1:3260), 2 (10.1.0.1:3260)\n"
	"  2    node2  unavailable       3 (10.0.0.2:3260), 4 (10.1.0.2:3260)\n"
	"\n"
	"Sessions (1):\n"
	"  Initiator                ISID          TSIH  Node   Portal\n"
	"  iqn.2024-01.test:client  400001370000  1     node1  10.0.0.1:3260\n"
	"\n"
	"Fence history (1):\n"
	"  Started                   By     Target  Agent        Action  Result  Took\n"
	"  2024-05-01T12:00:01.120Z  node1  node2   fence_netns  off     ok      412 ms\n"
	"\n"
	"Failed actions: none\n";

static const char doc_fencefail[] =
	"{\"version\": 1, \"cluster\": \"demo\", \"local_node\": 1, \"phase\": \"synced\""
	", \"epoch\": 5, \"quorate\": true, \"quorum\": {\"expected_votes\": 2"
	", \"total_votes\": 1, \"quorum\": 1, \"flags\": [\"Quorate\", \"TwoNode\""
	", \"WaitForAll\"]}, \"nodes\": [{\"id\": 1, \"name\": \"node1\", \"state\": \"online\""
	", \"online\": true, \"fenced\": false, \"standby\": false}, {\"id\": 2"
	", \"name\": \"node2\", \"state\": \"unclean\", \"online\": false, \"fenced\": false"
	", \"standby\": false}], \"luns\": [{\"name\": \"lun0\", \"ao_node\": null"
	", \"reason\": \"I/O frozen until node2 is fenced\", \"tpgs\": [{\"id\": 1, \"node\": 1"
	", \"state\": \"transitioning\", \"ports\": [{\"id\": 1, \"portal\": \"10.0.0.1:3260\"}"
	", {\"id\": 2, \"portal\": \"10.1.0.1:3260\"}]}, {\"id\": 2, \"node\": 2"
	", \"state\": \"transitioning\", \"ports\": [{\"id\": 3, \"portal\": \"10.0.0.2:3260\"}"
	", {\"id\": 4, \"portal\": \"10.1.0.2:3260\"}]}]}], \"sessions\": []"
	", \"fence_history\": [{\"target\": 2, \"by\": 1, \"agent\": \"fence_ipmilan\""
	", \"action\": \"off\", \"result\": \"timeout\""
	", \"started\": \"2024-05-01T12:00:01.120Z\""
	", \"finished\": \"2024-05-01T12:00:21.120Z\", \"duration_ms\": 20000"
	", \"detail\": \"agent killed after 20 s\"}, {\"target\": 2, \"by\": 1"
	", \"agent\": \"fence_ipmilan\", \"action\": \"off\", \"result\": \"failed\""
	", \"started\": \"2024-05-01T12:00:23.120Z\""
	", \"finished\": \"2024-05-01T12:00:24.901Z\", \"duration_ms\": 1781"
	", \"detail\": \"exit 1: Unable to connect/login to fencing device\"}"
	", {\"target\": 2, \"by\": 1, \"agent\": \"fence_ipmilan\", \"action\": \"off\""
	", \"result\": \"running\", \"started\": \"2024-05-01T12:00:26.120Z\"}]"
	", \"failed_actions\": [{\"what\": \"fence node2 with fence_ipmilan\""
	", \"why\": \"2 attempts failed (last: exit 1: Unable to connect/login to fencing device); retrying\""
	", \"hint\": \"check ipaddr/login/password in [fence node2] of clusterd.conf"
	", then run: clusterctl fence-test node2\"}]}";

static const char text_fencefail[] =
	"Cluster: demo\n"
	"Local:   node1 (1)\n"
	"Phase:   synced, epoch 5\n"
	"Quorum:  yes, 1 of 2 votes (quorum 1), flags: Quorate TwoNode WaitForAll\n"
	"\n"
	"Nodes (2):\n"
	"  Id  Name   State\n"
	"  1   node1  Online   local\n"
	"  2   node2  UNCLEAN\n"
	"\n"
	"LUN lun0: AO none (I/O frozen until node2 is fenced)\n"
	"  TPG  Node   State          Ports\n"
	"  1    node1  transitioning  1 (10.0.0.1:3260), 2 (10.1.0.1:3260)\n"
	"  2    node2  transitioning  3 (10.0.0.2:3260), 4 (10.1.0.2:3260)\n"
	"\n"
	"Sessions: none\n"
	"\n"
	"Fence history (3):\n"
	"  Started                   By     Target  Agent          Action  Result   Took\n"
	"  2024-05-01T12:00:01.120Z  node1  node2   fence_ipmilan  off     TIMEOUT  20.0 s  agent killed after 20 s\n"
	"  2024-05-01T12:00:23.120Z  node1  node2   fence_ipmilan  off     FAILED   1.8 s   exit 1: Unable to connect/login to fencing device\n"
	"  2024-05-01T12:00:26.120Z  node1  node2   fence_ipmilan  off     running  -\n"
	"\n"
	"Failed actions (1):\n"
	"  * fence node2 with fence_ipmilan: 2 attempts failed (last: exit 1: Unable to connect/login to fencing device); retrying\n"
	"    hint: check ipaddr/login/password in [fence node2] of clusterd.conf, then run: clusterctl fence-test node2\n";

static const char doc_transition[] =
	"{\"version\": 1, \"cluster\": \"demo\", \"local_node\": 2, \"phase\": \"syncing\""
	", \"epoch\": 7, \"quorate\": true, \"quorum\": {\"expected_votes\": 2"
	", \"total_votes\": 2, \"quorum\": 1, \"flags\": [\"Quorate\", \"TwoNode\"]}"
	", \"nodes\": [{\"id\": 1, \"name\": \"node1\", \"state\": \"online\", \"online\": true"
	", \"fenced\": false, \"standby\": true}, {\"id\": 2, \"name\": \"node2\""
	", \"state\": \"online\", \"online\": true, \"fenced\": false, \"standby\": false}]"
	", \"luns\": [{\"name\": \"lun0\", \"ao_node\": 1, \"reason\": \"moving to node2\""
	", \"tpgs\": [{\"id\": 1, \"node\": 1, \"state\": \"transitioning\", \"ports\": [{\"id\": 1"
	", \"portal\": \"10.0.0.1:3260\"}]}, {\"id\": 2, \"node\": 2"
	", \"state\": \"transitioning\", \"ports\": [{\"id\": 3"
	", \"portal\": \"10.0.0.2:3260\"}]}]}, {\"name\": \"data1\", \"ao_node\": 2"
	", \"tpgs\": [{\"id\": 1, \"node\": 1, \"state\": \"ano\", \"ports\": [{\"id\": 1"
	", \"portal\": \"10.0.0.1:3260\"}]}, {\"id\": 2, \"node\": 2, \"state\": \"ao\""
	", \"ports\": [{\"id\": 3, \"portal\": \"10.0.0.2:3260\"}]}]}], \"sessions\": []"
	", \"fence_history\": [], \"failed_actions\": []}";

static const char text_transition[] =
	"Cluster: demo\n"
	"Local:   node2 (2)\n"
	"Phase:   syncing (decisions wait until every member's state has arrived), epoch 7\n"
	"Quorum:  yes, 2 of 2 votes (quorum 1), flags: Quorate TwoNode\n"
	"\n"
	"Nodes (2):\n"
	"  Id  Name   State\n"
	"  1   node1  Online  standby\n"
	"  2   node2  Online  local\n"
	"\n"
	"LUN lun0: AO node1 (moving to node2)\n"
	"  TPG  Node   State          Ports\n"
	"  1    node1  transitioning  1 (10.0.0.1:3260)\n"
	"  2    node2  transitioning  3 (10.0.0.2:3260)\n"
	"\n"
	"LUN data1: AO node2\n"
	"  TPG  Node   State                 Ports\n"
	"  1    node1  active/non-optimized  1 (10.0.0.1:3260)\n"
	"  2    node2  active/optimized      3 (10.0.0.2:3260)\n"
	"\n"
	"Sessions: none\n"
	"\n"
	"Fence history: none\n"
	"\n"
	"Failed actions: none\n";

static const char doc_noquorum[] =
	"{\"version\": 1, \"cluster\": \"demo\", \"local_node\": 2, \"phase\": \"synced\""
	", \"quorate\": false, \"quorum\": {\"expected_votes\": 2, \"total_votes\": 1"
	", \"quorum\": 2, \"flags\": []}, \"nodes\": [{\"id\": 1, \"name\": \"node1\""
	", \"state\": \"offline\", \"online\": false, \"fenced\": false}, {\"id\": 2"
	", \"name\": \"node2\", \"state\": \"online\", \"online\": true, \"fenced\": false}]"
	", \"luns\": [], \"sessions\": [], \"fence_history\": [], \"failed_actions\": []}";

static const char text_noquorum[] =
	"Cluster: demo\n"
	"Local:   node2 (2)\n"
	"Phase:   synced\n"
	"Quorum:  NO, 1 of 2 votes (quorum 2)\n"
	"         no failover and no fencing without quorum\n"
	"\n"
	"Nodes (2):\n"
	"  Id  Name   State\n"
	"  1   node1  Offline\n"
	"  2   node2  Online   local\n"
	"\n"
	"LUNs: none\n"
	"\n"
	"Sessions: none\n"
	"\n"
	"Fence history: none\n"
	"\n"
	"Failed actions: none\n";

static const char doc_empty[] =
	"{}";

static const char text_empty[] =
	"Cluster: ?\n"
	"Local:   ?\n"
	"Phase:   ?\n"
	"Quorum:  ?\n"
	"\n"
	"Nodes: ?\n"
	"\n"
	"LUNs: ?\n"
	"\n"
	"Sessions: ?\n"
	"\n"
	"Fence history: ?\n"
	"\n"
	"Failed actions: ?\n";

static const char doc_odd[] =
	"{\"cluster\": 5, \"nodes\": [{\"id\": \"x\"}, 7], \"luns\": [{\"name\": \"l\""
	", \"ao_node\": 9, \"tpgs\": [{\"state\": \"weird\"}]}], \"quorate\": \"yes\""
	", \"fence_history\": [{}], \"failed_actions\": [{\"what\": \"x\"}]"
	", \"sessions\": [{}]}";

static const char text_odd[] =
	"Cluster: ?\n"
	"Local:   ?\n"
	"Phase:   ?\n"
	"Quorum:  ?\n"
	"\n"
	"Nodes (2):\n"
	"  Id  Name  State\n"
	"  ?   ?     ?\n"
	"  ?   ?     ?\n"
	"\n"
	"LUN l: AO 9\n"
	"  TPG  Node  State  Ports\n"
	"  ?    ?     weird\n"
	"\n"
	"Sessions (1):\n"
	"  Initiator  ISID  TSIH  Node  Portal\n"
	"  ?          ?     ?     ?     ?\n"
	"\n"
	"Fence history (1):\n"
	"  Started  By  Target  Agent  Action  Result  Took\n"
	"  ?        ?   ?       ?      ?       ?       -\n"
	"\n"
	"Failed actions (1):\n"
	"  * x\n";
/* clang-format on */

static void check_render(const char *doc_json, const char *want)
{
	struct json_object *doc = json_tokener_parse(doc_json);
	const char *line;
	char *got;

	assert_non_null(doc);
	assert_int_equal(status_text_render(doc, &got), 0);
	assert_string_equal(got, want);
	/* no line ends in blanks */
	for (line = got; *line; line = strchr(line, '\n') + 1)
		assert_true(strchr(line, '\n') == line || strchr(line, '\n')[-1] != ' ');
	free(got);
	json_object_put(doc);
}

static void test_normal(void **state)
{
	check_render(doc_normal, text_normal);
}

static void test_node_fenced(void **state)
{
	check_render(doc_fenced, text_fenced);
}

static void test_fence_failed_with_hint(void **state)
{
	check_render(doc_fencefail, text_fencefail);
}

static void test_transitioning(void **state)
{
	check_render(doc_transition, text_transition);
}

static void test_no_quorum(void **state)
{
	check_render(doc_noquorum, text_noquorum);
}

static void test_empty_document(void **state)
{
	check_render(doc_empty, text_empty);
}

static void test_wrong_types(void **state)
{
	check_render(doc_odd, text_odd);
}

/* Sessions counted but not listed are shown as a count, not as "none". */
static void test_session_count_only(void **state)
{
	struct json_object *doc = json_tokener_parse(doc_noquorum);
	char *got, *sess;

	assert_non_null(doc);
	json_object_object_add(doc, "session_count", json_object_new_int(3));
	assert_int_equal(status_text_render(doc, &got), 0);
	sess = strstr(got, "\nSessions");
	assert_non_null(sess);
	assert_memory_equal(sess, "\nSessions: 3 (not listed by this clusterd)\n\nFence history",
			    strlen("\nSessions: 3 (not listed by this clusterd)\n\nFence history"));
	free(got);
	/* with a list, the list wins; with a zero count, "none" */
	json_object_object_add(doc, "session_count", json_object_new_int(0));
	assert_int_equal(status_text_render(doc, &got), 0);
	assert_string_equal(got, text_noquorum);
	free(got);
	json_object_put(doc);
}

/* A document that is not even an object renders like an empty one. */
static void test_not_an_object(void **state)
{
	struct json_object *doc = json_object_new_array();
	char *got;

	assert_int_equal(status_text_render(doc, &got), 0);
	assert_string_equal(got, text_empty);
	free(got);
	json_object_put(doc);
	assert_int_equal(status_text_render(NULL, &got), 0);
	assert_string_equal(got, text_empty);
	free(got);
}

static void check_event(const char *ev_json, const char *want)
{
	struct json_object *ev = json_tokener_parse(ev_json);
	char *got;

	assert_non_null(ev);
	assert_int_equal(status_text_event(ev, &got), 0);
	assert_string_equal(got, want);
	free(got);
	json_object_put(ev);
}

static void test_event_lines(void **state)
{
	check_event("{\"seq\": 4, \"time\": \"2024-05-01T12:00:01.000Z\", \"type\": \"node\","
		    " \"node\": 2, \"message\": \"node2 left without a clean leave\"}",
		    "2024-05-01T12:00:01.000Z node: node2 left without a clean leave\n");
	/* without a message: the other members, strings bare, the rest as JSON */
	check_event("{\"seq\": 5, \"time\": \"2024-05-01T12:00:02.000Z\", \"type\": \"fence\","
		    " \"target\": \"node2\", \"ok\": false, \"attempt\": 2,"
		    " \"args\": {\"action\": \"off\"}, \"ports\": [1, 2]}",
		    "2024-05-01T12:00:02.000Z fence: target=node2 ok=false attempt=2"
		    " args={\"action\":\"off\"} ports=[1,2]\n");
	check_event("{\"seq\": 6}", "? ?:\n");
	check_event("[1, 2]", "? ?:\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normal),
		cmocka_unit_test(test_node_fenced),
		cmocka_unit_test(test_fence_failed_with_hint),
		cmocka_unit_test(test_transitioning),
		cmocka_unit_test(test_no_quorum),
		cmocka_unit_test(test_empty_document),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_session_count_only),
		cmocka_unit_test(test_not_an_object),
		cmocka_unit_test(test_event_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
