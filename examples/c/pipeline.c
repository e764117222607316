/*
 * The story of the manuals through crcm's C ABI: open a sled store, load the
 * configuration, work leads as two sales people and a manager, then print
 * the board and the event outbox.
 *
 *   make -C examples/c run            (builds the library and this program)
 *   ./pipeline STORE_DIR CONFIG_JSON  (STORE_DIR must not hold a store yet)
 *
 * Every request is the request API's JSON; every answer is the wire envelope
 * {"wire": 1, "ok": ...}. A refusal returns its status and an error object
 * with the code, name, message and typed details.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crcm.h"

#define ANNA "{\"user\": \"anna\", \"role\": \"sales_person\"}"
#define BEN "{\"user\": \"ben\", \"role\": \"sales_person\"}"
#define MARIA "{\"user\": \"maria\", \"role\": \"manager\"}"

static crcm_engine *engine;

/* Sends one request. Returns the answer (free it with crcm_string_free), or
 * NULL after printing the refusal when `refusal_expected` names it. */
static char *call(const char *request, const char *refusal_expected) {
  char *answer = NULL;
  size_t length = 0;
  crcm_error *err = NULL;
  crcm_status status = crcm_request(engine, request, strlen(request), &answer, &length, &err);
  if (status == CRCM_OK) {
    if (refusal_expected != NULL) {
      fprintf(stderr, "expected %s, the request was accepted\n", refusal_expected);
      crcm_string_free(answer);
      exit(1);
    }
    return answer;
  }
  const char *name = crcm_error_name(err);
  if (refusal_expected == NULL || strcmp(name, refusal_expected) != 0) {
    fprintf(stderr, "request failed: %u %s: %s\n  %s\n", status, name, crcm_error_message(err), request);
    crcm_error_free(err);
    exit(1);
  }
  printf("   refused as expected: %u %s: %s\n     details %s\n", status, name, crcm_error_message(err),
         crcm_error_details_json(err));
  crcm_error_free(err);
  return NULL;
}

/* Copies the string value of the first `"key":"` after `anchor` in `json`
 * (compact JSON, values without escapes: ids and names). */
static const char *find_text(const char *json, const char *anchor, const char *key, char *out, size_t size) {
  char pattern[64];
  const char *at = anchor != NULL ? strstr(json, anchor) : json;
  snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
  at = at != NULL ? strstr(at, pattern) : NULL;
  out[0] = '\0';
  if (at == NULL) {
    return NULL;
  }
  at += strlen(pattern);
  size_t n = strcspn(at, "\"");
  if (n >= size) {
    n = size - 1;
  }
  memcpy(out, at, n);
  out[n] = '\0';
  return at + n;
}

/* The number after the first `"key":` at or after `at`, or -1. */
static long find_number(const char *at, const char *key) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":", key);
  const char *found = strstr(at, pattern);
  return found != NULL ? strtol(found + strlen(pattern), NULL, 10) : -1;
}

/* Sends `request` and copies the id of the record under `anchor`. */
static void call_for_id(const char *request, const char *anchor, char *id, size_t size) {
  char *answer = call(request, NULL);
  if (find_text(answer, anchor, "id", id, size) == NULL) {
    fprintf(stderr, "no id under %s in %s\n", anchor, answer);
    crcm_string_free(answer);
    exit(1);
  }
  crcm_string_free(answer);
}

static char *read_file(const char *path) {
  FILE *file = fopen(path, "rb");
  if (file == NULL) {
    perror(path);
    exit(1);
  }
  fseek(file, 0, SEEK_END);
  long size = ftell(file);
  if (size < 0) {
    fprintf(stderr, "%s: not a regular file\n", path);
    exit(1);
  }
  fseek(file, 0, SEEK_SET);
  char *text = malloc((size_t)size + 1);
  if (text == NULL || fread(text, 1, (size_t)size, file) != (size_t)size) {
    fprintf(stderr, "%s: cannot read\n", path);
    exit(1);
  }
  text[size] = '\0';
  fclose(file);
  return text;
}

static void create_lead(const char *actor, const char *first, const char *last, const char *company,
                        const char *contact, char *id, size_t size) {
  char request[1024];
  snprintf(request, sizeof request,
           "{\"actor\": %s, \"type\": \"create_lead\", \"lead\": {\"account_type\": \"business\", "
           "\"first_name\": \"%s\", \"last_name\": \"%s\", \"company\": \"%s\", %s, \"source\": \"web_form\", "
           "\"expected_revenue\": {\"currency\": \"USD\", \"minor\": 1200000}}}",
           actor, first, last, company, contact);
  call_for_id(request, "\"lead\":{", id, size);
  printf("   lead %-8s %-8s %-12s created by %s\n", first, last, company, strstr(actor, "anna") ? "anna" : "ben");
}

static void command(const char *actor, const char *type, const char *fields, const char *refusal) {
  char request[2048];
  snprintf(request, sizeof request, "{\"actor\": %s, \"type\": \"%s\", %s}", actor, type, fields);
  char *answer = call(request, refusal);
  crcm_string_free(answer);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s STORE_DIR CONFIG_JSON\n", argv[0]);
    return 2;
  }
  printf("crcm %s (wire %u) through the C ABI\n", crcm_version(), crcm_wire_version());
  if (crcm_wire_version() != CRCM_WIRE_VERSION) {
    fprintf(stderr, "the library speaks wire %u, this header %u\n", crcm_wire_version(), CRCM_WIRE_VERSION);
    return 1;
  }
  char spec[1024];
  snprintf(spec, sizeof spec, "sled:%s", argv[1]);
  crcm_error *err = NULL;
  crcm_status status = crcm_engine_open(spec, NULL, &engine, &err);
  if (status != CRCM_OK) {
    fprintf(stderr, "open %s: %u %s\n", spec, status, crcm_error_message(err));
    crcm_error_free(err);
    return 1;
  }

  printf("\n== 1. Maria loads the configuration (%s)\n", argv[2]);
  char *config = read_file(argv[2]);
  size_t request_size = strlen(config) + 128;
  char *request = malloc(request_size);
  if (request == NULL) {
    return 1;
  }
  snprintf(request, request_size, "{\"actor\": %s, \"type\": \"set_config\", \"config\": %s}", MARIA, config);
  char *answer = call(request, NULL);
  printf("   configuration version %ld\n", find_number(answer, "version"));
  crcm_string_free(answer);
  free(request);
  free(config);

  printf("\n== 2. Leads arrive\n");
  char globex[64], acme[64], globex_lead[64], initech[64], umbrella[64], deal[64];
  call_for_id("{\"actor\": " MARIA ", \"type\": \"create_customer\", \"customer\": "
              "{\"name\": \"Globex\", \"phone\": \"+1 212-555-0147\"}}",
              "\"customer\":{", globex, sizeof globex);
  printf("   existing customer Globex\n");
  create_lead(ANNA, "Ada", "Lovelace", "Acme Corp", "\"email\": \"Ada@Acme.example.com\"", acme, sizeof acme);
  create_lead(ANNA, "Hank", "Scorpio", "Globex Corp", "\"phone\": \"(212) 555 0147\"", globex_lead,
              sizeof globex_lead);
  command(BEN, "create_lead",
          "\"lead\": {\"account_type\": \"business\", \"first_name\": \"Peter\", \"company\": \"Initech\", "
          "\"email\": \"peter@@initech\"}",
          "invalid_email");
  create_lead(BEN, "Peter", "Gibbons", "Initech", "\"email\": \"peter@initech.example.com\"", initech,
              sizeof initech);
  create_lead(BEN, "Alice", "Abernathy", "Umbrella", "\"city\": \"Raccoon City\"", umbrella, sizeof umbrella);

  printf("\n== 3. Work the pipeline\n");
  char fields[512];
  snprintf(fields, sizeof fields, "\"lead\": \"%s\", \"status\": \"contacted\"", acme);
  command(ANNA, "set_lead_status", fields, NULL);
  snprintf(fields, sizeof fields, "\"lead\": \"%s\", \"phase\": {\"account_type\": \"business\", \"code\": \"QUOTE\"}",
           acme);
  command(ANNA, "move_lead_phase", fields, NULL);
  snprintf(fields, sizeof fields, "\"lead\": \"%s\", \"phase\": {\"account_type\": \"business\", \"code\": \"QUOTE\"}",
           globex_lead);
  command(ANNA, "move_lead_phase", fields, NULL);
  printf("   anna moved Acme and Globex to Send Quote\n");
  snprintf(fields, sizeof fields,
           "\"lead\": \"%s\", \"phase\": {\"account_type\": \"business\", \"code\": \"CLOSED\"}", acme);
  command(BEN, "move_lead_phase", fields, "permission_denied");
  snprintf(fields, sizeof fields, "\"lead\": \"%s\", \"customer\": {\"type\": \"auto\"}, \"deal\": {}", globex_lead);
  command(ANNA, "qualify_lead", fields, "customer_choice_required");
  snprintf(fields, sizeof fields,
           "{\"actor\": %s, \"type\": \"qualify_lead\", \"lead\": \"%s\", "
           "\"customer\": {\"type\": \"link\", \"customer\": \"%s\"}, \"deal\": {}}",
           ANNA, globex_lead, globex);
  call_for_id(fields, "\"deal\":{", deal, sizeof deal);
  printf("   Globex lead qualified: linked to customer Globex, deal opened\n");
  snprintf(fields, sizeof fields, "\"deal\": \"%s\"", deal);
  command(ANNA, "win_deal", fields, NULL);
  printf("   deal won: the lead is converted\n");
  snprintf(fields, sizeof fields, "\"lead\": \"%s\", \"customer\": {\"type\": \"auto\"}, \"deal\": {}", acme);
  command(ANNA, "qualify_lead", fields, NULL);
  printf("   Acme lead qualified: new customer\n");
  snprintf(fields, sizeof fields, "\"lead\": \"%s\", \"reason\": \"no_budget\"", initech);
  command(BEN, "disqualify_lead", fields, NULL);
  printf("   Initech lead disqualified by ben: no budget\n");
  snprintf(fields, sizeof fields,
           "\"lead\": \"%s\", \"phase\": {\"account_type\": \"business\", \"code\": \"CLOSED\"}, "
           "\"closing_reason\": \"competitor\"",
           umbrella);
  command(BEN, "move_lead_phase", fields, NULL);
  printf("   Umbrella lead closed: competitor\n");

  printf("\n== 4a. The board of account type Business\n");
  answer = call("{\"actor\": " MARIA ", \"type\": \"board\", \"query\": {\"account_type\": \"business\"}}", NULL);
  const char *column = answer;
  while ((column = strstr(column, "{\"phase\":{")) != NULL) {
    char name[128];
    const char *after = find_text(column, NULL, "name", name, sizeof name);
    if (after == NULL) {
      break;
    }
    printf("   %-18s %ld\n", name, find_number(after, "count"));
    column = after;
  }
  crcm_string_free(answer);

  printf("\n== 4b. The event outbox\n");
  char *events = NULL;
  size_t events_length = 0;
  status = crcm_events_since(engine, MARIA, 0, 100, &events, &events_length, &err);
  if (status != CRCM_OK) {
    fprintf(stderr, "events: %u %s\n", status, crcm_error_message(err));
    crcm_error_free(err);
    return 1;
  }
  const char *event = events;
  int shown = 0;
  while ((event = strstr(event, "{\"seq\":")) != NULL) {
    char actor[64], type[64];
    long seq = find_number(event, "seq");
    find_text(event, NULL, "actor", actor, sizeof actor);
    find_text(event, "\"event\":{", "type", type, sizeof type);
    printf("   #%-3ld %-6s %s\n", seq, actor, type);
    event += 7;
    shown++;
  }
  printf("   %d events, %zu bytes of JSON\n", shown, events_length);
  crcm_string_free(events);

  status = crcm_engine_close(engine);
  if (status != CRCM_OK) {
    return 1;
  }
  /* A closed handle is refused, never read. */
  status = crcm_request(engine, "{}", 2, &answer, NULL, NULL);
  printf("\nafter close: status %u (CRCM_INVALID_HANDLE is %u)\n", status, CRCM_INVALID_HANDLE);
  return status == CRCM_INVALID_HANDLE ? 0 : 1;
}
