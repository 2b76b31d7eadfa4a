/* hpcrec — entry point: MPI up, dispatch one subcommand, agree on the outcome, exit. */
#include <stdio.h>
#include <string.h>

#include "jobs/commands.h"
#include "mpi/comm.h"

typedef int (*hr_cmd_fn)(hr_job *, int, char **);

static const struct {
    const char *name;
    hr_cmd_fn fn;
    const char *what;
} commands[] = {
    { "gen", hr_cmd_gen, "generate synthetic interaction logs (date-partitioned, zstd)" },
    { "ingest", hr_cmd_ingest, "validate raw logs into a sharded dataset" },
    { "split", hr_cmd_split, "split a dataset into train and test" },
    { "train", hr_cmd_train, "train a model (als, ials, pop, ease, svd) and write a model bundle" },
    { "evaluate", hr_cmd_evaluate, "offline metrics of a model on a train/test split" },
    { "recommend", hr_cmd_recommend, "top-N recommendations for every user" },
    { "similar", hr_cmd_similar, "the most similar items of every item (factors or co-occurrence)" },
    { "index", hr_cmd_index, "build or query an ANN index over a model's item factors" },
    { "inspect", hr_cmd_inspect, "summarize a dataset, model or checkpoint and verify checksums" },
    { "export", hr_cmd_export, "a model as .npy/TSV files, recommendations as an SQLite database" },
    { "forget", hr_cmd_forget, "erase users from datasets, models, recommendations, checkpoints; keep the forget list" },
    { "drift", hr_cmd_drift, "what changed between two days: data, recommendations, neighbours" },
    { "report", hr_cmd_report, "one self-contained HTML page of a model root (rank 0 only)" },
};

static void usage(FILE *f)
{
    fprintf(f, "hpcrec %s — batch recommender training on MPI\n"
               "usage: mpirun -np P hpcrec COMMAND [options]   (hpcrec COMMAND --help for options)\n\n",
            HR_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].what);
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("hpcrec %s (%s)\n", HR_VERSION, HR_GIT);
        return 0;
    }
    hr_cmd_fn fn = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) fn = commands[i].fn;
    if (!fn) {
        fprintf(stderr, "hpcrec: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    hr_comm *comm;
    if (hr_comm_init_world(&argc, &argv, &comm) < 0) return 1;
    hr_job job;
    hr_job_init(&job, comm, argv[1]);
    int status = fn(&job, argc - 1, argv + 1);
    status = hr_comm_agree(comm, status, &job.err);
    if (status == 0) status = hr_comm_agree(comm, hr_job_write_summary(&job), &job.err);
    if (status < 0 && job.rank == 0) {
        /* One line per error (usage texts keep their newlines): a control byte that came in
         * with a path or an id is shown escaped, never raw. */
        char shown[sizeof job.err.msg * 4], *o = shown;
        for (const char *p = job.err.msg; *p; p++) {
            if (*p == '\n' || ((unsigned char)*p >= 0x20 && *p != 0x7f)) *o++ = *p;
            else o += strlen(hr_escape_text(p, 1, o, 8));
        }
        *o = '\0';
        fprintf(stderr, "hpcrec %s: error: %s\n", job.name, shown);
        fflush(stderr);
    }
    int code = hr_job_exit_code(status);
    hr_job_free(&job);
    hr_comm_free(comm);
    hr_comm_finalize();
    return code;
}
