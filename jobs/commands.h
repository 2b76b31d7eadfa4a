/* jobs/commands.h — one entry per subcommand (jobs/<name>.c). */
#ifndef HR_JOBS_COMMANDS_H
#define HR_JOBS_COMMANDS_H

#include "jobs/job.h"

int hr_cmd_gen(hr_job *job, int argc, char **argv);
int hr_cmd_ingest(hr_job *job, int argc, char **argv);
int hr_cmd_split(hr_job *job, int argc, char **argv);
int hr_cmd_inspect(hr_job *job, int argc, char **argv);
int hr_cmd_train(hr_job *job, int argc, char **argv);
int hr_cmd_evaluate(hr_job *job, int argc, char **argv);
int hr_cmd_recommend(hr_job *job, int argc, char **argv);
int hr_cmd_similar(hr_job *job, int argc, char **argv);
int hr_cmd_index(hr_job *job, int argc, char **argv);
int hr_cmd_export(hr_job *job, int argc, char **argv);
int hr_cmd_forget(hr_job *job, int argc, char **argv);
int hr_cmd_drift(hr_job *job, int argc, char **argv);
int hr_cmd_report(hr_job *job, int argc, char **argv);

#endif
