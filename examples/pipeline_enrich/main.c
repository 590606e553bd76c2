/*
 * examples/pipeline_enrich — an event-driven validation/enrichment
 * pipeline.
 *
 *   main thread --push--> validate --> enrich (parallel, 4 workers,
 *                         (skip)       ordered)  --> write (sink)
 *
 * Records are msgpack maps {"id": int, "email": str, "age": int}. The
 * validate stage checks each one and rejects the bad ones with an error;
 * its policy is NACT_PL_SKIP, so they are counted (nact_pl_stats.skipped)
 * and dropped. The enrich stage is a parallel map on four worker actors
 * that adds "domain" (from the email) and "group" (from the age) and keeps
 * the input order. The sink writes one line per record to stdout.
 *
 * The records come from the main thread with nact_pipeline_push_wait (a
 * blocking push with a timeout: it waits while the pipeline has no credit).
 * The program exits 0 only if every valid record reached the sink,
 * enriched and in order, and exactly the invalid ones were skipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nactor/nactor.h>
#include <nactor/pipeline.h>

#define NREC 1000

struct rec {
	int64_t id, age;
	const char *email;
	size_t elen;
};

/* Read a record map; NACT_EBADMSG when a field is missing or wrong. */
static int rec_read(const void *b, size_t len, struct rec *r, nact_reader *rd)
{
	uint32_t np;
	int have = 0;
	int rv = nact_reader_init_buf(rd, b, len, NULL);
	if (rv == 0)
		rv = nact_read_map(rd, &np);
	for (uint32_t i = 0; rv == 0 && i < np; i++) {
		const char *k;
		size_t kl;
		if ((rv = nact_read_str(rd, &k, &kl)) != 0)
			break;
		if (kl == 2 && memcmp(k, "id", 2) == 0) {
			rv = nact_read_int(rd, &r->id);
			have |= 1;
		} else if (kl == 5 && memcmp(k, "email", 5) == 0) {
			rv = nact_read_str(rd, &r->email, &r->elen);
			have |= 2;
		} else if (kl == 3 && memcmp(k, "age", 3) == 0) {
			rv = nact_read_int(rd, &r->age);
			have |= 4;
		} else {
			msgpack_object o;
			rv = nact_read_object(rd, &o);
		}
	}
	if (rv == 0 && have != 7)
		rv = NACT_EBADMSG;
	return rv;
}

static int validate(void *arg, const void *b, size_t len, nact_pl_out *out)
{
	struct rec r;
	nact_reader rd;
	(void)arg;
	int rv = rec_read(b, len, &r, &rd);
	if (rv == 0 && (r.age < 0 || r.age > 150 || memchr(r.email, '@', r.elen) == NULL))
		rv = NACT_EBADMSG;
	nact_reader_fini(&rd);
	if (rv != 0)
		return rv; /* skipped and counted by the policy */
	return nact_pl_emit_raw(out, b, len);
}

static int enrich(void *arg, const void *b, size_t len, nact_pl_out *out)
{
	struct rec r;
	nact_reader rd;
	nact_pack *pk;
	(void)arg;
	int rv = rec_read(b, len, &r, &rd);
	if (rv == 0)
		rv = nact_pl_emit(out, &pk);
	if (rv == 0) {
		const char *at = memchr(r.email, '@', r.elen);
		nact_pack_map(pk, 5);
		nact_pack_str(pk, "id");
		nact_pack_int(pk, r.id);
		nact_pack_str(pk, "email");
		nact_pack_strn(pk, r.email, r.elen);
		nact_pack_str(pk, "age");
		nact_pack_int(pk, r.age);
		nact_pack_str(pk, "domain");
		nact_pack_strn(pk, at + 1, r.elen - (size_t)(at + 1 - r.email));
		nact_pack_str(pk, "group");
		nact_pack_str(pk, r.age < 18 ? "minor" : r.age < 65 ? "adult" : "senior");
	}
	nact_reader_fini(&rd);
	return rv;
}

struct sink {
	int64_t n, last_id;
	int out_of_order, missing;
	FILE *f;
};

static int write_rec(void *arg, const void *b, size_t len)
{
	struct sink *s = arg;
	nact_reader rd;
	uint32_t np;
	const char *k, *domain = NULL, *group = NULL;
	size_t kl, dl = 0, gl = 0;
	int64_t id = -1;
	int rv = nact_reader_init_buf(&rd, b, len, NULL);
	if (rv == 0)
		rv = nact_read_map(&rd, &np);
	for (uint32_t i = 0; rv == 0 && i < np; i++) {
		msgpack_object o;
		if ((rv = nact_read_str(&rd, &k, &kl)) != 0)
			break;
		if (kl == 2 && memcmp(k, "id", 2) == 0)
			rv = nact_read_int(&rd, &id);
		else if (kl == 6 && memcmp(k, "domain", 6) == 0)
			rv = nact_read_str(&rd, &domain, &dl);
		else if (kl == 5 && memcmp(k, "group", 5) == 0)
			rv = nact_read_str(&rd, &group, &gl);
		else
			rv = nact_read_object(&rd, &o);
	}
	if (rv == 0) {
		if (domain == NULL || group == NULL)
			s->missing++;
		if (id <= s->last_id)
			s->out_of_order++;
		s->last_id = id;
		s->n++;
		if (s->n <= 5 || s->n % 200 == 0)
			fprintf(s->f, "record %lld domain=%.*s group=%.*s\n", (long long)id,
			    (int)dl, domain ? domain : "", (int)gl, group ? group : "");
	}
	nact_reader_fini(&rd);
	return rv;
}

/* Record i: every 7th has a bad email, every 11th a bad age, every 13th
 * lacks its email field. */
static int make_rec(nact_system *sys, int64_t i, nact_msg **mp, int *valid)
{
	static const char *const domains[] = {"example.org", "example.com", "mail.test"};
	char email[64];
	nact_pack pk;
	int rv = nact_msg_alloc(mp, sys, 1);
	if (rv != 0)
		return rv;
	int bad_email = i % 7 == 0, bad_age = i % 11 == 0, no_email = i % 13 == 0;
	*valid = !bad_email && !bad_age && !no_email;
	snprintf(email, sizeof(email), bad_email ? "user%lld.%s" : "user%lld@%s", (long long)i,
	    domains[i % 3]);
	nact_pack_init(&pk, *mp);
	nact_pack_map(&pk, no_email ? 2 : 3);
	nact_pack_str(&pk, "id");
	nact_pack_int(&pk, i);
	if (!no_email) {
		nact_pack_str(&pk, "email");
		nact_pack_str(&pk, email);
	}
	nact_pack_str(&pk, "age");
	nact_pack_int(&pk, bad_age ? -5 : i % 90);
	return nact_pack_error(&pk);
}

int main(void)
{
	nact_system *sys;
	nact_pipeline *pl;
	nact_pl_result res;
	nact_pl_stats vs;
	struct sink sink = {0, -1, 0, 0, stdout};
	int rv, nvalid = 0;

	if ((rv = nact_system_open(&sys, NULL)) != 0) {
		fprintf(stderr, "open: %s\n", nact_strerror(rv));
		return 1;
	}
	nact_pl_stage st[] = {nact_pl_map("validate", validate, NULL),
	    nact_pl_pmap("enrich", enrich, NULL, 4, 1), nact_pl_sink("write", write_rec, &sink)};
	st[0].policy = NACT_PL_SKIP;
	nact_pipeline_opts o = {0};
	o.name = "enrich-records";
	if ((rv = nact_pipeline_start(&pl, sys, st, 3, &o)) != 0) {
		fprintf(stderr, "start: %s\n", nact_strerror(rv));
		return 1;
	}
	for (int64_t i = 1; i <= NREC && rv == 0; i++) {
		nact_msg *m;
		int valid;
		if ((rv = make_rec(sys, i, &m, &valid)) == 0 &&
		    (rv = nact_pipeline_push_wait(pl, m, 10000)) != 0)
			nact_msg_free(m);
		nvalid += valid;
	}
	if (rv == 0)
		rv = nact_pipeline_end(pl);
	if (rv == 0)
		rv = nact_pipeline_wait(pl, 30000, &res);
	nact_pipeline_stats(pl, 0, &vs);
	nact_pipeline_free(pl);
	nact_system_close(sys, 5000);
	if (rv != 0) {
		fprintf(stderr, "pipeline: %s\n", nact_strerror(rv));
		return 1;
	}
	printf("%lld records written, %llu invalid skipped (of %d)\n", (long long)sink.n,
	    (unsigned long long)vs.skipped, NREC);
	int ok = res.code == 0 && sink.n == nvalid && vs.skipped == (uint64_t)(NREC - nvalid) &&
	    sink.out_of_order == 0 && sink.missing == 0;
	if (!ok)
		fprintf(stderr,
		    "wrong result: code %d (%s), %lld written for %d valid, %d out of order, "
		    "%d not enriched\n",
		    res.code, res.message, (long long)sink.n, nvalid, sink.out_of_order,
		    sink.missing);
	return ok ? 0 : 1;
}
