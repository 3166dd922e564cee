/*
 * microvm: the only place that turns an error into an exit status.
 * Sequence: options -> /dev/kvm -> guest memory (policy, reserve, prefault)
 * -> VM, irqchip, slots -> kernel, initrd, cmdline -> vCPUs -> devices ->
 * run -> stop vCPUs, flush, msync, report, exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "vmm/cli.h"
#include "vmm/control.h"
#include "vmm/machine.h"

#define MICROVM_VERSION "0.1.0"

int main(int argc, char **argv)
{
	struct machine_timing t0;
	struct cli_opts opts;
	char err[512] = "";
	int ret;

	machine_timing_now(&t0);
	/* `microvm ctl PATH REQUEST...`: a client of a running VM's
	 * --control-socket, not a VM. */
	if (argc >= 2 && !strcmp(argv[1], "ctl"))
		return control_client(argc >= 3 ? argv[2] : NULL,
				      argc >= 3 ? argc - 3 : 0,
				      argc >= 3 ? argv + 3 : argv + argc);
	if (cli_parse(argc, argv, &opts, err, sizeof(err))) {
		fprintf(stderr, "microvm: error: %s\n", err);
		return 2;
	}
	if (opts.help) {
		cli_usage(stdout);
		return 0;
	}
	if (opts.version) {
		printf("microvm %s\n", MICROVM_VERSION);
		return 0;
	}
	if (opts.verbose)
		log_set_level(LOG_INFO);
	ret = machine_run(&opts, &t0, err, sizeof(err));
	if (ret < 0) {
		/* Through the log: a full stderr nobody reads must not keep
		 * a stopped VMM from exiting. */
		log_err("%s", err[0] ? err : strerror(-ret));
		return 1;
	}
	return ret;
}
