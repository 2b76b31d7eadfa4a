#include "jobs/commands.h"
int hr_cmd_report(hr_job *job, int argc, char **argv) { (void)argc; (void)argv; return hr_error_set(&job->err, HR_ERR_ARG, "report: not yet"); }
