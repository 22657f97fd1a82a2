/*
 * doc.c — YAML text → jansson tree + source marks (see doc.h).
 *
 * Owns: the libyaml parser of one file, the tree it builds and the table of
 * marks. The table is keyed by (container, key) and (container, index)
 * rather than by node, because jansson's true/false/null are shared
 * singletons that cannot carry a position of their own.
 *
 * Hostile input is bounded here, before anything else sees it: file size,
 * nesting depth, and the node count after alias expansion (billion laughs).
 */
#include "doc.h"

#include <runbook/runbook.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

typedef struct mark_entry {
    const void *parent; /* NULL = empty slot */
    char *key;          /* NULL for array items */
    size_t idx;
    rb_mark_t km, vm;
} mark_entry_t;

typedef struct anchor {
    char *name;
    json_t *node;
    size_t nodes; /* size of the subtree, for the expansion bound */
    size_t start; /* node count when the anchored node began */
} anchor_t;

struct rb_doc {
    char *name;
    char *text;
    size_t len;
    json_t *root;
    rb_mark_t root_mark;
    mark_entry_t *marks;
    size_t nmarks, capmarks;
    size_t *line_starts;
    size_t nlines;
};

/* ---- the mark table ---- */

static size_t mark_hash(const void *parent, const char *key, size_t idx)
{
    uint64_t h = (uint64_t)(uintptr_t)parent * 0x9E3779B97F4A7C15ull;
    if (key) {
        for (const unsigned char *p = (const unsigned char *)key; *p; p++)
            h = (h ^ *p) * 0x100000001B3ull;
    } else {
        h ^= (uint64_t)idx * 0xC2B2AE3D27D4EB4Full;
    }
    return (size_t)(h ^ (h >> 29));
}

static mark_entry_t *mark_find(const rb_doc_t *doc, const void *parent, const char *key, size_t idx)
{
    if (!doc->capmarks)
        return NULL;
    size_t mask = doc->capmarks - 1;
    for (size_t i = mark_hash(parent, key, idx) & mask;; i = (i + 1) & mask) {
        mark_entry_t *e = &doc->marks[i];
        if (!e->parent)
            return NULL;
        if (e->parent == parent && e->idx == idx &&
            ((!e->key && !key) || (e->key && key && strcmp(e->key, key) == 0)))
            return e;
    }
}

static int mark_put(rb_doc_t *doc, const void *parent, const char *key, size_t idx, rb_mark_t km,
                    rb_mark_t vm)
{
    if ((doc->nmarks + 1) * 2 > doc->capmarks) {
        size_t nc = doc->capmarks ? doc->capmarks * 2 : 256;
        mark_entry_t *nm = calloc(nc, sizeof(*nm));
        if (!nm)
            return RB_ENOMEM;
        for (size_t i = 0; i < doc->capmarks; i++) {
            mark_entry_t *e = &doc->marks[i];
            if (!e->parent)
                continue;
            size_t j = mark_hash(e->parent, e->key, e->idx) & (nc - 1);
            while (nm[j].parent)
                j = (j + 1) & (nc - 1);
            nm[j] = *e;
        }
        free(doc->marks);
        doc->marks = nm;
        doc->capmarks = nc;
    }
    size_t mask = doc->capmarks - 1;
    size_t i = mark_hash(parent, key, idx) & mask;
    while (doc->marks[i].parent)
        i = (i + 1) & mask;
    mark_entry_t *e = &doc->marks[i];
    e->parent = parent;
    e->key = key ? strdup(key) : NULL;
    if (key && !e->key) {
        e->parent = NULL;
        return RB_ENOMEM;
    }
    e->idx = key ? 0 : idx;
    e->km = km;
    e->vm = vm;
    doc->nmarks++;
    return 0;
}

rb_mark_t rb_doc_root_mark(const rb_doc_t *doc) { return doc->root_mark; }

rb_mark_t rb_doc_key_mark(const rb_doc_t *doc, const json_t *obj, const char *key)
{
    mark_entry_t *e = mark_find(doc, obj, key, 0);
    return e ? e->km : (rb_mark_t){0, 0, 0};
}

rb_mark_t rb_doc_val_mark(const rb_doc_t *doc, const json_t *obj, const char *key)
{
    mark_entry_t *e = mark_find(doc, obj, key, 0);
    return e ? e->vm : (rb_mark_t){0, 0, 0};
}

rb_mark_t rb_doc_item_mark(const rb_doc_t *doc, const json_t *arr, size_t idx)
{
    mark_entry_t *e = mark_find(doc, arr, NULL, idx);
    return e ? e->vm : (rb_mark_t){0, 0, 0};
}

rb_mark_t rb_doc_offset_mark(const rb_doc_t *doc, rb_mark_t m, size_t offset)
{
    rb_mark_t r = m;
    r.style = 0;
    if (!m.line)
        return r;
    if (m.style == RB_STYLE_LITERAL || m.style == RB_STYLE_FOLDED) {
        /* Content starts on the next line at the block's indentation (that
         * of its first line); walk the source lines. */
        uint32_t line = m.line + 1;
        size_t left = offset, indent = 0;
        if (line <= doc->nlines) {
            size_t s0 = doc->line_starts[line - 1];
            while (s0 + indent < doc->len && doc->text[s0 + indent] == ' ')
                indent++;
        }
        while (line <= doc->nlines) {
            size_t s = doc->line_starts[line - 1];
            size_t e = line < doc->nlines ? doc->line_starts[line] : doc->len;
            size_t content = e - s > indent ? e - s - indent : 1; /* includes the newline */
            if (left < content || line == doc->nlines) {
                r.line = line;
                r.col = (uint32_t)(indent + left + 1);
                return r;
            }
            left -= content;
            line++;
        }
        return r;
    }
    r.col = m.col + (uint32_t)offset + (m.style == RB_STYLE_SQUOTE || m.style == RB_STYLE_DQUOTE);
    return r;
}

/* ---- building ---- */

typedef struct frame {
    json_t *node;
    int is_map;
    char *key; /* pending key of a mapping, NULL when a key is expected */
    rb_mark_t km;
    size_t nitems;
    char *anchor; /* anchor of this container, registered at its end */
    size_t start_nodes;
    int skip; /* the value of a duplicate key comes next: it is set aside */
} frame_t;

typedef struct builder {
    rb_doc_t *doc;
    rb_diags_t *diags;
    frame_t stack[RB_DOC_MAX_DEPTH + 1];
    size_t depth;
    anchor_t *anchors;
    size_t nanchors, capanchors;
    size_t nodes;
    int failed;
    /* Duplicate keys fail the document but do not stop the build, so that
     * every one is reported; their values are kept here, out of the tree,
     * until the build ends. */
    size_t dupes;
    json_t *dupe_values;
} builder_t;

static rb_mark_t to_mark(yaml_mark_t m, int style)
{
    return (rb_mark_t){(uint32_t)m.line + 1, (uint32_t)m.column + 1, (uint8_t)style};
}

static void fail(builder_t *b, rb_mark_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(builder_t *b, rb_mark_t at, const char *fmt, ...)
{
    if (b->failed)
        return;
    b->failed = 1;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rb_diag_add(b->diags, RB_DIAG_ERROR, b->doc->name, at, "%s", msg);
}

static json_t *resolve_plain(const char *v, size_t len)
{
    if (len == 0 || (len == 1 && v[0] == '~') || !strcmp(v, "null") || !strcmp(v, "Null") ||
        !strcmp(v, "NULL"))
        return json_null();
    if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE"))
        return json_true();
    if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE"))
        return json_false();
    const char *p = v;
    if (*p == '-' || *p == '+')
        p++;
    if (*p >= '0' && *p <= '9') {
        char *end;
        errno = 0;
        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o') && p == v) {
            long long n = strtoll(p + 2, &end, p[1] == 'x' ? 16 : 8);
            if (*end == '\0' && end != p + 2 && !errno)
                return json_integer(n);
            return json_stringn(v, len);
        }
        long long n = strtoll(v, &end, 10);
        if (*end == '\0' && !errno)
            return json_integer(n);
        double d = strtod(v, &end);
        if (*end == '\0' && isfinite(d) && strspn(v, "+-0123456789.eE") == len)
            return json_real(d);
    } else if (*p == '.' && p[1] >= '0' && p[1] <= '9') {
        char *end;
        double d = strtod(v, &end);
        if (*end == '\0' && isfinite(d) && strspn(v, "+-0123456789.eE") == len)
            return json_real(d);
    }
    return json_stringn(v, len);
}

static int add_anchor(builder_t *b, const char *name, json_t *node, size_t nodes)
{
    if (b->nanchors == b->capanchors) {
        size_t nc = b->capanchors ? b->capanchors * 2 : 8;
        anchor_t *na = realloc(b->anchors, nc * sizeof(*na));
        if (!na)
            return RB_ENOMEM;
        b->anchors = na;
        b->capanchors = nc;
    }
    anchor_t *a = &b->anchors[b->nanchors++];
    a->name = strdup(name);
    a->node = json_incref(node);
    a->nodes = nodes;
    return a->name ? 0 : RB_ENOMEM;
}

/* Puts a finished value into the container on top of the stack (or makes it
 * the root). Steals node. */
static void attach(builder_t *b, json_t *node, rb_mark_t vm, int is_scalar_key_ok)
{
    if (!node) {
        fail(b, vm, "out of memory");
        return;
    }
    if (b->depth == 0) {
        b->doc->root = node;
        b->doc->root_mark = vm;
        return;
    }
    frame_t *f = &b->stack[b->depth - 1];
    if (f->is_map && f->skip) {
        f->skip = 0;
        json_array_append_new(b->dupe_values, node);
        return;
    }
    if (!f->is_map) {
        if (json_array_append_new(f->node, node) < 0) {
            fail(b, vm, "out of memory");
            return;
        }
        mark_put(b->doc, f->node, NULL, f->nitems++, vm, vm);
        return;
    }
    if (!f->key) {
        /* A key is expected: only scalars (strings) may be keys. */
        if (!is_scalar_key_ok) {
            json_decref(node);
            fail(b, vm, "mapping keys must be plain strings");
            return;
        }
        const char *k = json_is_string(node) ? json_string_value(node) : NULL;
        char buf[64];
        if (!k) {
            if (json_is_integer(node)) {
                snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(node));
                k = buf;
            } else if (json_is_true(node) || json_is_false(node)) {
                k = json_is_true(node) ? "true" : "false";
            } else {
                json_decref(node);
                fail(b, vm, "mapping keys must be plain strings");
                return;
            }
        }
        if (json_is_string(node) && strlen(k) != json_string_length(node)) {
            json_decref(node);
            fail(b, vm, "a mapping key contains a NUL byte");
            return;
        }
        if (json_object_get(f->node, k)) {
            rb_diag_add(b->diags, RB_DIAG_ERROR, b->doc->name, vm, "duplicate key \"%s\"", k);
            b->dupes++;
            f->skip = 1;
            json_decref(node);
            return;
        }
        f->key = strdup(k);
        f->km = vm;
        json_decref(node);
        return;
    }
    if (json_object_set_new(f->node, f->key, node) < 0) {
        fail(b, vm, "invalid key \"%s\" (not UTF-8?)", f->key);
    } else {
        mark_put(b->doc, f->node, f->key, 0, f->km, vm);
    }
    free(f->key);
    f->key = NULL;
}

static void on_event(builder_t *b, yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        int style = RB_STYLE_PLAIN;
        switch (ev->data.scalar.style) {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = RB_STYLE_SQUOTE; break;
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = RB_STYLE_DQUOTE; break;
        case YAML_LITERAL_SCALAR_STYLE: style = RB_STYLE_LITERAL; break;
        case YAML_FOLDED_SCALAR_STYLE: style = RB_STYLE_FOLDED; break;
        default: break;
        }
        rb_mark_t vm = to_mark(ev->start_mark, style);
        if (++b->nodes > RB_DOC_MAX_NODES) {
            fail(b, vm, "document has too many nodes (more than %u)", RB_DOC_MAX_NODES);
            return;
        }
        const char *v = (const char *)ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        const char *tag = (const char *)ev->data.scalar.tag;
        json_t *node;
        if (style != RB_STYLE_PLAIN || (tag && (!strcmp(tag, "!") || !strcmp(tag, YAML_STR_TAG))))
            node = json_stringn(v, len);
        else
            node = resolve_plain(v, len);
        if (!node) {
            fail(b, vm, "string is not valid UTF-8");
            return;
        }
        if (ev->data.scalar.anchor && add_anchor(b, (const char *)ev->data.scalar.anchor, node, 1) < 0) {
            json_decref(node);
            fail(b, vm, "out of memory");
            return;
        }
        attach(b, node, vm, 1);
        break;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_map = ev->type == YAML_MAPPING_START_EVENT;
        rb_mark_t vm = to_mark(ev->start_mark, RB_STYLE_PLAIN);
        if (b->depth >= RB_DOC_MAX_DEPTH) {
            fail(b, vm, "nesting is deeper than %u levels", RB_DOC_MAX_DEPTH);
            return;
        }
        if (b->depth > 0 && b->stack[b->depth - 1].is_map && !b->stack[b->depth - 1].key &&
            !b->stack[b->depth - 1].skip) {
            fail(b, vm, "mapping keys must be plain strings");
            return;
        }
        if (++b->nodes > RB_DOC_MAX_NODES) {
            fail(b, vm, "document has too many nodes (more than %u)", RB_DOC_MAX_NODES);
            return;
        }
        json_t *node = is_map ? json_object() : json_array();
        if (!node) {
            fail(b, vm, "out of memory");
            return;
        }
        /* Attach now so marks of children can key on the container. */
        json_incref(node);
        attach(b, node, vm, 0);
        if (b->failed) {
            json_decref(node);
            return;
        }
        frame_t *f = &b->stack[b->depth++];
        memset(f, 0, sizeof(*f));
        f->node = node; /* the frame's own reference */
        f->is_map = is_map;
        f->start_nodes = b->nodes - 1;
        const yaml_char_t *anchor =
            is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
        if (anchor)
            f->anchor = strdup((const char *)anchor);
        break;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT: {
        frame_t *f = &b->stack[--b->depth];
        if (f->anchor) {
            if (add_anchor(b, f->anchor, f->node, b->nodes - f->start_nodes) < 0)
                fail(b, to_mark(ev->start_mark, 0), "out of memory");
            free(f->anchor);
        }
        free(f->key);
        json_decref(f->node);
        break;
    }
    case YAML_ALIAS_EVENT: {
        rb_mark_t vm = to_mark(ev->start_mark, RB_STYLE_PLAIN);
        const char *name = (const char *)ev->data.alias.anchor;
        anchor_t *a = NULL;
        for (size_t i = b->nanchors; i-- > 0;)
            if (!strcmp(b->anchors[i].name, name)) {
                a = &b->anchors[i];
                break;
            }
        if (!a) {
            fail(b, vm, "unknown alias \"*%s\"", name);
            return;
        }
        b->nodes += a->nodes;
        if (b->nodes > RB_DOC_MAX_NODES) {
            fail(b, vm, "aliases expand the document past 200000 nodes (an alias bomb?); "
                        "near alias \"*%s\"", name);
            return;
        }
        /* Shared, not copied: the tree is read-only after loading, and the
         * node bound above keeps any walk of it bounded. */
        attach(b, json_incref(a->node), vm, 1);
        break;
    }
    default:
        break;
    }
}

static void index_lines(rb_doc_t *doc)
{
    size_t n = 1;
    for (size_t i = 0; i < doc->len; i++)
        n += doc->text[i] == '\n';
    doc->line_starts = malloc(n * sizeof(size_t));
    if (!doc->line_starts)
        return;
    size_t k = 0;
    doc->line_starts[k++] = 0;
    for (size_t i = 0; i < doc->len; i++)
        if (doc->text[i] == '\n' && k < n)
            doc->line_starts[k++] = i + 1;
    doc->nlines = k;
}

static void yaml_problem(builder_t *b, yaml_parser_t *p)
{
    rb_mark_t at = to_mark(p->problem_mark, 0);
    if (p->error == YAML_READER_ERROR) {
        /* Reader errors carry a byte offset, not a line: find the line. */
        size_t off = p->problem_offset;
        uint32_t line = 1, col = 1;
        for (size_t i = 0; i < off && i < b->doc->len; i++) {
            if (b->doc->text[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        at = (rb_mark_t){line, col, 0};
        char msg[256];
        snprintf(msg, sizeof(msg), "YAML: %s (is this a text file?)",
                 p->problem ? p->problem : "cannot read the file");
        fail(b, at, "%s", msg);
        return;
    }
    size_t off = p->problem_mark.index;
    int tab = off < b->doc->len && b->doc->text[off] == '\t';
    if (!tab && p->problem_mark.line < b->doc->nlines && b->doc->line_starts) {
        /* libyaml sometimes reports the token after the tab; look back on the line. */
        size_t s = b->doc->line_starts[p->problem_mark.line];
        for (size_t i = s; i < off && i < b->doc->len && b->doc->text[i] != '\n'; i++)
            if (b->doc->text[i] == '\t' && strspn(b->doc->text + s, " \t") > i - s) {
                tab = 1;
                at.col = (uint32_t)(i - s + 1);
                break;
            }
    }
    char msg[512];
    if (tab)
        snprintf(msg, sizeof(msg), "YAML: tab character in indentation (YAML indents with spaces only)");
    else if (p->context && p->problem_mark.index + 1 >= b->doc->len) {
        /* Ran off the end (an unclosed quote or bracket): the place to
         * look is where the unfinished thing started. */
        at = to_mark(p->context_mark, 0);
        snprintf(msg, sizeof(msg), "YAML: %s (it starts here and is never closed)", p->context);
    } else if (p->context)
        snprintf(msg, sizeof(msg), "YAML: %s %s (line %zu)", p->problem ? p->problem : "syntax error",
                 p->context, (size_t)p->context_mark.line + 1);
    else
        snprintf(msg, sizeof(msg), "YAML: %s", p->problem ? p->problem : "syntax error");
    fail(b, at, "%s", msg);
}

#define RB_DOC_EXPECT_RUNBOOK "a runbook (a mapping with apiVersion, name and steps)"

int rb_doc_load_string(const char *name, const char *text, size_t len, rb_diags_t *d, rb_doc_t **out)
{
    return rb_doc_load_string_as(name, RB_DOC_EXPECT_RUNBOOK, text, len, d, out);
}

int rb_doc_load_string_as(const char *name, const char *expect, const char *text, size_t len,
                          rb_diags_t *d, rb_doc_t **out)
{
    *out = NULL;
    rb_doc_t *doc = calloc(1, sizeof(*doc));
    if (!doc)
        return RB_ENOMEM;
    doc->name = strdup(name);
    doc->text = malloc(len + 1);
    if (!doc->name || !doc->text) {
        rb_doc_free(doc);
        return RB_ENOMEM;
    }
    memcpy(doc->text, text, len);
    doc->text[len] = '\0';
    doc->len = len;
    index_lines(doc);

    if (len > RB_DOC_MAX_BYTES) {
        rb_diag_add(d, RB_DIAG_ERROR, name, (rb_mark_t){1, 1, 0},
                    "file is %.1f MiB; a runbook may be at most %u MiB", (double)len / 1048576.0,
                    RB_DOC_MAX_BYTES >> 20);
        rb_doc_free(doc);
        return RB_ETOOBIG;
    }

    builder_t *b = calloc(1, sizeof(*b));
    if (!b) {
        rb_doc_free(doc);
        return RB_ENOMEM;
    }
    b->doc = doc;
    b->diags = d;
    b->dupe_values = json_array();
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)doc->text, len);
    int docs = 0, done = 0;
    while (!done && !b->failed) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            yaml_problem(b, &p);
            break;
        }
        if (ev.type == YAML_DOCUMENT_START_EVENT && ++docs > 1)
            fail(b, to_mark(ev.start_mark, 0),
                 "more than one YAML document in the file (one runbook per file)");
        done = ev.type == YAML_STREAM_END_EVENT;
        on_event(b, &ev);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    while (b->depth > 0) {
        frame_t *f = &b->stack[--b->depth];
        free(f->key);
        free(f->anchor);
        json_decref(f->node);
    }
    for (size_t i = 0; i < b->nanchors; i++) {
        free(b->anchors[i].name);
        json_decref(b->anchors[i].node);
    }
    free(b->anchors);
    json_decref(b->dupe_values);
    int failed = b->failed || b->dupes;
    free(b);
    if (!failed && expect && (!doc->root || json_is_null(doc->root))) {
        rb_diag_add(d, RB_DIAG_ERROR, name, (rb_mark_t){1, 1, 0}, "empty file: expected %s",
                    expect);
        failed = 1;
    }
    if (!failed && !doc->root)
        doc->root = json_null();
    if (failed) {
        rb_doc_free(doc);
        return RB_EINVAL;
    }
    *out = doc;
    return 0;
}

int rb_doc_load_file(const char *path, rb_diags_t *d, rb_doc_t **out)
{
    return rb_doc_load_file_as(path, RB_DOC_EXPECT_RUNBOOK, d, out);
}

int rb_doc_load_file_as(const char *path, const char *expect, rb_diags_t *d, rb_doc_t **out)
{
    *out = NULL;
    /* O_NONBLOCK: opening a FIFO for reading would wait for a writer; so
     * it opens at once and is refused below as not a regular file. (A
     * regular file ignores the flag.) */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        rb_diag_add(d, RB_DIAG_ERROR, path, (rb_mark_t){0, 0, 0}, "cannot open: %s", strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        rb_diag_add(d, RB_DIAG_ERROR, path, (rb_mark_t){0, 0, 0}, "not a regular file");
        return RB_EINVAL;
    }
    if ((uint64_t)st.st_size > RB_DOC_MAX_BYTES) {
        close(fd);
        rb_diag_add(d, RB_DIAG_ERROR, path, (rb_mark_t){1, 1, 0},
                    "file is %.1f MiB; a runbook may be at most %u MiB",
                    (double)st.st_size / 1048576.0, RB_DOC_MAX_BYTES >> 20);
        return RB_ETOOBIG;
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return RB_ENOMEM;
    }
    for (;;) {
        if (len == cap) {
            /* The file grew while we read it; stay within the limit. */
            if (cap > RB_DOC_MAX_BYTES)
                break;
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                break;
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            free(buf);
            close(fd);
            rb_diag_add(d, RB_DIAG_ERROR, path, (rb_mark_t){0, 0, 0}, "cannot read: %s", strerror(e));
            return -e;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    int rc = rb_doc_load_string_as(path, expect, buf, len, d, out);
    free(buf);
    return rc;
}

void rb_doc_free(rb_doc_t *doc)
{
    if (!doc)
        return;
    for (size_t i = 0; i < doc->capmarks; i++)
        free(doc->marks[i].key);
    free(doc->marks);
    json_decref(doc->root);
    free(doc->line_starts);
    free(doc->text);
    free(doc->name);
    free(doc);
}

json_t *rb_doc_root(const rb_doc_t *doc) { return doc->root; }
const char *rb_doc_name(const rb_doc_t *doc) { return doc->name; }

const char *rb_doc_source(const rb_doc_t *doc, size_t *len)
{
    if (len)
        *len = doc->len;
    return doc->text;
}
