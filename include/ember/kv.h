/* ember/kv.h — a key and a value, both strings: labels and attributes that
 * a user configures (--push.labels, OTEL_RESOURCE_ATTRIBUTES) and the push
 * encoders copy onto what they send. The pointers are borrowed. */
#ifndef EMBER_KV_H
#define EMBER_KV_H

typedef struct ember_kv {
	const char *key;
	const char *value;
} ember_kv;

#endif
