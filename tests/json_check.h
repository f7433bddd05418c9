/*
 * Just enough JSON for the statistics tests: a strict validator (RFC 8259
 * grammar, UTF-8 checked loosely) that can also collect the decoded "name"
 * strings, and a lookup of one numeric field in the flat object that
 * carries a given name.
 */
#ifndef PKTMEM_TEST_JSON_CHECK_H
#define PKTMEM_TEST_JSON_CHECK_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct json_names {
	char names[512][64]; /* decoded values of every "name" key */
	int n;
};

struct json_parser {
	const char *p;
	int depth;
	struct json_names *names;
};

static void json_ws(struct json_parser *j)
{
	while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
		j->p++;
}

static int json_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A string at j->p, decoded into @out (@cap bytes, may be NULL). */
static bool json_string_at(struct json_parser *j, char *out, size_t cap)
{
	size_t n = 0;

	if (*j->p != '"')
		return false;
	j->p++;
	for (;;) {
		unsigned char c = (unsigned char)*j->p++;
		unsigned long cp;

		if (c == '"')
			break;
		if (c < 0x20)
			return false; /* includes the NUL at the end */
		if (c != '\\') {
			if (out && n + 1 < cap)
				out[n++] = (char)c;
			continue;
		}
		c = (unsigned char)*j->p++;
		switch (c) {
		case '"': case '\\': case '/': cp = c; break;
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			cp = 0;
			for (int i = 0; i < 4; i++) {
				int h = json_hex(*j->p++);

				if (h < 0)
					return false;
				cp = cp << 4 | (unsigned long)h;
			}
			break;
		default:
			return false;
		}
		if (out && n + 4 < cap) {
			if (cp < 0x80) {
				out[n++] = (char)cp;
			} else if (cp < 0x800) {
				out[n++] = (char)(0xc0 | cp >> 6);
				out[n++] = (char)(0x80 | (cp & 0x3f));
			} else {
				out[n++] = (char)(0xe0 | cp >> 12);
				out[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
				out[n++] = (char)(0x80 | (cp & 0x3f));
			}
		}
	}
	if (out && cap)
		out[n] = '\0';
	return true;
}

static bool json_value(struct json_parser *j);

static bool json_number(struct json_parser *j)
{
	const char *s = j->p;

	if (*j->p == '-')
		j->p++;
	if (*j->p == '0')
		j->p++;
	else if (*j->p >= '1' && *j->p <= '9')
		while (*j->p >= '0' && *j->p <= '9')
			j->p++;
	else
		return false;
	if (*j->p == '.') {
		j->p++;
		if (!(*j->p >= '0' && *j->p <= '9'))
			return false;
		while (*j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (*j->p == 'e' || *j->p == 'E') {
		j->p++;
		if (*j->p == '+' || *j->p == '-')
			j->p++;
		if (!(*j->p >= '0' && *j->p <= '9'))
			return false;
		while (*j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	return j->p > s;
}

static bool json_object(struct json_parser *j)
{
	j->p++; /* { */
	json_ws(j);
	if (*j->p == '}') {
		j->p++;
		return true;
	}
	for (;;) {
		char key[64];

		json_ws(j);
		if (!json_string_at(j, key, sizeof(key)))
			return false;
		json_ws(j);
		if (*j->p++ != ':')
			return false;
		json_ws(j);
		if (strcmp(key, "name") == 0 && j->names && *j->p == '"' && j->names->n < 512) {
			if (!json_string_at(j, j->names->names[j->names->n], sizeof(j->names->names[0])))
				return false;
			j->names->n++;
		} else if (!json_value(j)) {
			return false;
		}
		json_ws(j);
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		return *j->p++ == '}';
	}
}

static bool json_array(struct json_parser *j)
{
	j->p++; /* [ */
	json_ws(j);
	if (*j->p == ']') {
		j->p++;
		return true;
	}
	for (;;) {
		json_ws(j);
		if (!json_value(j))
			return false;
		json_ws(j);
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		return *j->p++ == ']';
	}
}

static bool json_value(struct json_parser *j)
{
	bool ok;

	if (++j->depth > 64)
		return false;
	switch (*j->p) {
	case '{': ok = json_object(j); break;
	case '[': ok = json_array(j); break;
	case '"': ok = json_string_at(j, NULL, 0); break;
	case 't': ok = strncmp(j->p, "true", 4) == 0 && (j->p += 4); break;
	case 'f': ok = strncmp(j->p, "false", 5) == 0 && (j->p += 5); break;
	case 'n': ok = strncmp(j->p, "null", 4) == 0 && (j->p += 4); break;
	default: ok = json_number(j); break;
	}
	j->depth--;
	return ok;
}

/* True when @text is exactly one JSON value (whitespace around allowed).
 * @names, if not NULL, receives the decoded value of every "name" key. */
static inline bool json_valid(const char *text, struct json_names *names)
{
	struct json_parser j = { .p = text, .names = names };

	if (names)
		names->n = 0;
	json_ws(&j);
	if (!json_value(&j))
		return false;
	json_ws(&j);
	return *j.p == '\0';
}

/*
 * The unsigned integer @field of the flat object whose "name" is the JSON
 * string @quoted_name (with its quotes, as the library escapes it), or -1.
 * @after, if not NULL, starts the search there (e.g. at "\"pools\"").
 */
static inline long long json_field_of(const char *text, const char *after, const char *quoted_name,
				      const char *field)
{
	char key[160], fkey[64];
	const char *obj, *end, *f;

	if (after) {
		text = strstr(text, after);
		if (!text)
			return -1;
	}
	snprintf(key, sizeof(key), "\"name\": %s,", quoted_name);
	obj = strstr(text, key);
	if (!obj)
		return -1;
	end = strchr(obj, '}');
	snprintf(fkey, sizeof(fkey), "\"%s\": ", field);
	f = strstr(obj, fkey);
	if (!f || !end || f > end)
		return -1;
	return strtoll(f + strlen(fkey), NULL, 10);
}

/* The unsigned integer value of the first @field anywhere after @after. */
static inline long long json_top_field(const char *text, const char *after, const char *field)
{
	char fkey[64];
	const char *f;

	if (after) {
		text = strstr(text, after);
		if (!text)
			return -1;
	}
	snprintf(fkey, sizeof(fkey), "\"%s\": ", field);
	f = strstr(text, fkey);
	return f ? strtoll(f + strlen(fkey), NULL, 10) : -1;
}

#endif /* PKTMEM_TEST_JSON_CHECK_H */
