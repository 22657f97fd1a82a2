/*
 * plugin.h — external action modules: .so files that export
 * RB_ACTION_ENTRY_SYMBOL (include/runbook/action.h), loaded from a plugin
 * directory (`--plugins DIR`, $RUNBOOK_PLUGINS). Implemented in
 * engine/host/plugin.c. Start-up only (not thread-safe): load before any loop
 * runs actions, unload after every runbook that may point at a plugin's
 * descriptor is freed.
 */
#ifndef RB_PLUGIN_H
#define RB_PLUGIN_H

#include <runbook/action.h>

/* Most descriptors one module may export, and most parameters one action
 * may declare: past these the array is taken to be unterminated. */
#define RB_PLUGIN_MAX_ACTIONS 64
#define RB_PLUGIN_MAX_PARAMS  64

/*
 * Loads one module: opens path (binding every symbol now, so a module that
 * needs a function the engine does not have is refused here, not at its
 * first call), calls its entry, checks each descriptor with
 * rb__plugin_check_action and that no name is already registered, then
 * registers them all. All or nothing: on error nothing of path stays loaded.
 * Returns 0; RB_EIO (cannot be opened), RB_EABI (no entry symbol, another
 * ABI version, a struct_size this engine cannot read) or RB_EINVAL (a
 * malformed descriptor, a name clash), with a message in err naming path.
 */
int rb__plugin_load(const char *path, char *err, size_t errlen);

/*
 * Loads every *.so in dir (not hidden files, not subdirectories), in name
 * order, with rb__plugin_load. All or nothing: on the first error the
 * modules this call loaded are unloaded again, and err names the file.
 * Returns 0, a negative errno when dir cannot be read, or the error of
 * rb__plugin_load.
 */
int rb__plugins_load_dir(const char *dir, char *err, size_t errlen);

/* Unregisters every plugin action and closes every module. For tests and
 * clean shutdown; the process never needs it. */
void rb__plugins_unload_all(void);

/*
 * The loader's checks of one descriptor, in the order it makes them:
 * abi_version, then struct_size (both before any other field is read), then
 * name ([a-z0-9_]+, at most 64), summary, flags (exactly one of
 * RB_ACTION_SIDE_EFFECTS and RB_ACTION_READ_ONLY, no unknown bits), start,
 * and the parameter map (names, types, defaults that are valid JSON, no
 * duplicates). Does not look at the registry. 0 or RB_EABI / RB_EINVAL with
 * a message (without a file name) in err. Any thread.
 */
int rb__plugin_check_action(const rb_action_t *a, char *err, size_t errlen);

/* The module file an action was loaded from, or NULL for a built-in. */
const char *rb__plugin_source(const rb_action_t *a);

#endif
