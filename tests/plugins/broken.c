/*
 * broken.c — action modules the loader must refuse, one per build variant
 * (tests/plugins/plugins.cmake compiles this file once per -DVARIANT into
 * its own folder). Used by tests/unit/test_plugin.c and
 * tests/e2e/plugins.sh; never built into the engine or shipped.
 *
 * Each variant is wrong in exactly one way, so each test proves one check:
 *   BAD_ABI      abi_version 99
 *   BAD_SIZE     struct_size smaller than rb_action_t
 *   NO_ENTRY     no rb_action_module_entry symbol at all
 *   CLASH        an action named "exec" (a built-in)
 *   DUP_HELLO    an action named "hello" (the example module's)
 *   UNDEF        calls a function the engine does not export
 *   NO_FLAGS     neither RB_ACTION_SIDE_EFFECTS nor RB_ACTION_READ_ONLY
 *   BAD_DEFAULT  a parameter default that is not JSON text
 *   SECOND_BAD   two descriptors, the second with abi_version 99: the
 *                first must not stay registered
 */
#include <runbook/action.h>

#include <stdlib.h>

#if defined(UNDEF)
void rb_action_no_such_service(rb_action_ctx_t *ctx); /* nobody defines it */
#endif

static int broken_start(rb_action_ctx_t *ctx, const json_t *with)
{
#if defined(UNDEF)
    rb_action_no_such_service(ctx);
#endif
    rb_action_done(ctx, json_pack("{s:b}", "ok", 1));
    return 0;
}

static const rb_action_param_t broken_params[] = {
#if defined(BAD_DEFAULT)
    {"level", RB_PARAM_STRING, 0, "info", "A default written without JSON quotes."},
#else
    {"level", RB_PARAM_STRING, 0, "\"info\"", "A level."},
#endif
    {NULL, 0, 0, NULL, NULL},
};

#if defined(CLASH)
#define BROKEN_NAME "exec"
#elif defined(DUP_HELLO)
#define BROKEN_NAME "hello"
#else
#define BROKEN_NAME "broken"
#endif

static const rb_action_t broken_action = {
#if defined(BAD_ABI)
    .abi_version = 99,
#else
    .abi_version = RB_ACTION_ABI_VERSION,
#endif
#if defined(BAD_SIZE)
    .struct_size = 16,
#else
    .struct_size = sizeof(rb_action_t),
#endif
    .name = BROKEN_NAME,
    .summary = "A module the loader must refuse",
#if defined(NO_FLAGS)
    .flags = 0,
#else
    .flags = RB_ACTION_READ_ONLY,
#endif
    .params = broken_params,
    .validate = NULL,
    .start = broken_start,
    .cancel = NULL,
};

#if defined(SECOND_BAD)
static const rb_action_t second_action = {
    .abi_version = 99,
    .struct_size = sizeof(rb_action_t),
    .name = "second",
};
#endif

#if defined(NO_ENTRY)
/* Exports something, just not the entry. */
const rb_action_t *const *rb_action_module_entry_v0(void);
const rb_action_t *const *rb_action_module_entry_v0(void)
{
    static const rb_action_t *const actions[] = {&broken_action, NULL};
    return actions;
}
#else
const rb_action_t *const *rb_action_module_entry(void);
const rb_action_t *const *rb_action_module_entry(void)
{
#if defined(SECOND_BAD)
    static const rb_action_t *const actions[] = {&broken_action, &second_action, NULL};
#else
    static const rb_action_t *const actions[] = {&broken_action, NULL};
#endif
    return actions;
}
#endif
