#include <stdio.h>
#include <string.h>
#include "crcm.h"

int main(void) {
  crcm_engine *engine = NULL;
  crcm_error *err = NULL;
  if (crcm_engine_open("sled:./crcm-data", NULL, &engine, &err) != CRCM_OK) {
    fprintf(stderr, "open: %s\n", crcm_error_message(err));
    crcm_error_free(err);
    return 1;
  }
  const char *request = "{\"actor\": {\"user\": \"ann\", \"role\": \"manager\"}, "
                        "\"type\": \"get_lead_by_number\", \"number\": 1}";
  char *answer = NULL;
  size_t length = 0;
  crcm_status status = crcm_request(engine, request, strlen(request), &answer, &length, &err);
  if (status == CRCM_OK) {
    printf("%s\n", answer); /* {"wire":1,"ok":{"type":"lead","lead":{...}}} */
    crcm_string_free(answer);
  } else {
    printf("%u %s: %s %s\n", status, crcm_error_name(err), crcm_error_message(err), crcm_error_details_json(err));
    crcm_error_free(err);
  }
  return crcm_engine_close(engine) == CRCM_OK ? 0 : 1;
}
