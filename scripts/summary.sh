# shellcheck shell=sh
# Test results, one way for every tier (POSIX sh; sourced by the Makefile's
# recipes, scripts/run-tests, tests/boot/run and tests/user/run).
#
# A tier ends with one summary line
#   NAME: N passed, N failed, N skipped
# and the script-driven tiers print one result line per case
#   PREFIX <name> PASS|FAIL|SKIP [why]
# (PREFIX is BOOT-TEST, USER-TEST). A case file that declares its cases
# prints, before any result, the declaration (BOOT-EXPECT for BOOT-TEST:
# the prefix with -TEST replaced)
#   BOOT-EXPECT <name> <name> ...
# so a file that dies half-way is seen (summary_expect).
#
# The counts land in summary_p, summary_f, summary_s.

# summary_count FILE PREFIX: count the PREFIX result lines in FILE.
summary_count() {
	summary_p=$(grep -ac "^$2 [^ ]* PASS" "$1")
	summary_f=$(grep -ac "^$2 [^ ]* FAIL" "$1")
	summary_s=$(grep -ac "^$2 [^ ]* SKIP" "$1")
}

# summary_reset, then summary_add P F S: running counts.
summary_reset() {
	summary_p=0 summary_f=0 summary_s=0
}
summary_add() {
	summary_p=$((summary_p + $1)) summary_f=$((summary_f + $2))
	summary_s=$((summary_s + $3))
}

# summary_print NAME: the summary line for the counts.
summary_print() {
	echo "$1: $summary_p passed, $summary_f failed, $summary_s skipped"
}

# summary_parse FILE [ERE]: the last summary line in FILE (with ERE, one
# whose text before the counts matches ERE, e.g. '^unit: ') into
# summary_line and its counts into parsed_p, parsed_f, parsed_s (the
# running counts stay). Returns 1 when there is none.
summary_parse() {
	summary_line=$(grep -aE "${2:-}[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped" "$1" | tail -n 1)
	[ -n "$summary_line" ] || return 1
	# shellcheck disable=SC2034 # results for the caller
	read -r parsed_p parsed_f parsed_s <<EOF
$(printf '%s\n' "$summary_line" | sed -E 's/^(.*[^0-9])?([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped.*/\2 \3 \4/')
EOF
}

# summary_expect FILE PREFIX WHAT: FILE holds the output of one case file
# (WHAT names it in messages). Checks its results against its
# declaration line and prints a PREFIX FAIL result line for each
# declared case with no result, each result for an undeclared case, each
# case with more than one result, and (as WHAT-expect) a file that printed
# no declaration. Returns 1 when it printed any.
summary_expect() {
	awk -v p="$2" -v what="$3" '
	BEGIN { ep = p; sub(/-TEST$/, "", ep); ep = ep "-EXPECT" }
	{ sub(/\r$/, "") }
	$1 == ep && !have {
		have = 1
		for (i = 2; i <= NF; i++) { decl[$i] = 1; order[++n] = $i }
		next
	}
	$1 == p && ($3 == "PASS" || $3 == "FAIL" || $3 == "SKIP") {
		if (!($2 in got)) seen[++m] = $2
		got[$2]++
	}
	END {
		bad = 0
		if (!have) {
			name = what; sub(/.*\//, "", name); sub(/\.sh$/, "", name)
			print p, name "-expect", "FAIL " what " printed no " ep " line before its results"
			exit 1
		}
		for (i = 1; i <= n; i++)
			if (!(order[i] in got)) {
				print p, order[i], "FAIL no result: " what " ended before this case or never ran it"
				bad = 1
			}
		for (i = 1; i <= m; i++) {
			if (!(seen[i] in decl)) {
				print p, seen[i], "FAIL not declared on the " ep " line of " what
				bad = 1
			} else if (got[seen[i]] > 1) {
				print p, seen[i], "FAIL " got[seen[i]] " results for one case in " what
				bad = 1
			}
		}
		exit bad
	}' "$1"
}
