/* util/metrics.c: series storage (a hash table per family) and Prometheus rendering. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kr/metrics.h"

typedef struct series {
    char *labels;
    double value;
    struct series *next;      /* hash chain */
    struct series *order;     /* creation order, for stable output */
} series_t;

typedef struct {
    series_t *buckets[64];
    series_t *first, *last;
} family_t;

struct kr_metrics {
    family_t fam[KR_M__COUNT];
};

static const struct { const char *name, *type, *help; } families[] = {
#define KR_METRIC_ROW(name, type, help) { #name, #type, help },
    KR_METRIC_FAMILIES(KR_METRIC_ROW)
#undef KR_METRIC_ROW
};

kr_metrics_t *kr_metrics_new(void) { return calloc(1, sizeof(kr_metrics_t)); }

void kr_metrics_free(kr_metrics_t *m)
{
    if (!m)
        return;
    for (int f = 0; f < KR_M__COUNT; f++) {
        series_t *s = m->fam[f].first;
        while (s) {
            series_t *n = s->order;
            free(s->labels);
            free(s);
            s = n;
        }
    }
    free(m);
}

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

static series_t *find(const kr_metrics_t *m, kr_metric_t f, const char *labels)
{
    const family_t *fam = &m->fam[f];
    for (series_t *s = fam->buckets[hash(labels) % 64]; s; s = s->next)
        if (strcmp(s->labels, labels) == 0)
            return s;
    return NULL;
}

static series_t *get(kr_metrics_t *m, kr_metric_t f, const char *labels)
{
    if (!labels)
        labels = "";
    series_t *s = find(m, f, labels);
    if (s)
        return s;
    if (!(s = calloc(1, sizeof *s)) || !(s->labels = strdup(labels))) {
        free(s);
        return NULL;
    }
    family_t *fam = &m->fam[f];
    unsigned b = hash(labels) % 64;
    s->next = fam->buckets[b];
    fam->buckets[b] = s;
    if (fam->last)
        fam->last->order = s;
    else
        fam->first = s;
    fam->last = s;
    return s;
}

void kr_metrics_add(kr_metrics_t *m, kr_metric_t f, const char *labels, double v)
{
    series_t *s = m ? get(m, f, labels) : NULL;
    if (s)
        s->value += v;
}

void kr_metrics_set(kr_metrics_t *m, kr_metric_t f, const char *labels, double v)
{
    series_t *s = m ? get(m, f, labels) : NULL;
    if (s)
        s->value = v;
}

double kr_metrics_get(const kr_metrics_t *m, kr_metric_t f, const char *labels)
{
    const series_t *s = m ? find(m, f, labels ? labels : "") : NULL;
    return s ? s->value : 0;
}

char *kr_metrics_render(const kr_metrics_t *m)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out)
        return NULL;
    for (int f = 0; f < KR_M__COUNT; f++) {
        fprintf(out, "# HELP kresponder_%s %s\n# TYPE kresponder_%s %s\n", families[f].name,
                families[f].help, families[f].name, families[f].type);
        for (const series_t *s = m->fam[f].first; s; s = s->order) {
            if (s->labels[0])
                fprintf(out, "kresponder_%s{%s} %.17g\n", families[f].name, s->labels, s->value);
            else
                fprintf(out, "kresponder_%s %.17g\n", families[f].name, s->value);
        }
    }
    fclose(out);
    return buf;
}

char *kr_metrics_escape(const char *value, char *buf, size_t len)
{
    size_t o = 0;
    if (!len)
        return buf;
    for (const char *p = value ? value : ""; *p && o + 2 < len; p++) {
        if (*p == '\\' || *p == '"') {
            buf[o++] = '\\';
            buf[o++] = *p;
        } else if (*p == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        } else {
            buf[o++] = *p;
        }
    }
    buf[o] = 0;
    return buf;
}
