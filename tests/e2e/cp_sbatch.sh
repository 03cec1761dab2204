#!/usr/bin/env bash
# supercell sbatch: an #SBATCH script with every supported directive is
# read as sbatch reads it (directives until the first command; the command
# line wins), checked against --test-only and against what its tasks saw
# (SLURM_* beside SUPERCELL_*, -o/-e files, --export, -D). Unknown
# directives are warnings with their line numbers.
source "${SC_E2E_LIB:-$(dirname "$0")/lib}/common.sh"

sc_start_server
sc_make_agent_token
sc_start_agent node-a nvidia:A100:4
sc_wait_nodes 1

work=$SC_SHARE/work
mkdir -p "$work" && chmod 1777 "$work"
cd "$SC_TMP" || fail "cd"
first=$(sc_submit --name first -- true)
sc_wait_job "$first" succeeded 15

cat >job.sh <<EOF
#!/bin/bash
# A Slurm script as users write it.
#SBATCH -J trainer
#SBATCH --ntasks=2
#SBATCH -c 2
#SBATCH --mem=1G
#SBATCH --gres=gpu:A100:1
#SBATCH -t 0-00:10:00
#SBATCH --partition=gpu
#SBATCH --dependency=afterok:${first#j-}
#SBATCH -o out-%x-%j.%a.txt
#SBATCH --error=err-%A_%a.txt
#SBATCH --export=NONE,FROM_EXPORT=yes
#SBATCH -D $work
#SBATCH --array=0-1
#SBATCH --qos=high   # a comment after a directive

echo "job=\$SLURM_JOB_ID array=\${SLURM_ARRAY_JOB_ID}_\$SLURM_ARRAY_TASK_ID proc=\$SLURM_PROCID of \$SLURM_NTASKS local=\$SLURM_LOCALID name=\$SLURM_JOB_NAME sc=\$SUPERCELL_JOB_ID idx=\$SUPERCELL_ARRAY_INDEX cuda=\$CUDA_VISIBLE_DEVICES export=\$FROM_EXPORT args=\$* cpus=\$SLURM_CPUS_PER_TASK pwd=\$(pwd)"
echo "to stderr" >&2
#SBATCH --not-a-directive-any-more
EOF

# 1. --test-only prints the spec and submits nothing.
spec=$("$SUPERCELL" sbatch --test-only job.sh one two 2>warn.txt) || fail "sbatch --test-only: $(cat warn.txt)"
check_eq "name" "$(jq -r .name <<<"$spec")" trainer
check_eq "tasks, cpu, memory, gpus" "$(jq -c '[.tasks, .resources.cpu_milli, .resources.memory, .resources.gpus]' <<<"$spec")" '[2,2000,"1024Mi",1]'
check_eq "model from --gres" "$(jq -c .models <<<"$spec")" '["A100"]'
check_eq "time" "$(jq -r .max_runtime <<<"$spec")" 600
check_eq "array, dependency" "$(jq -c '[.array, .dependency]' <<<"$spec")" "[\"0-1\",\"afterok:${first#j-}\"]"
check_eq "chdir" "$(jq -r .workdir <<<"$spec")" "$work"
check_eq "export" "$(jq -c '.env | del(.SLURM_SUBMIT_DIR)' <<<"$spec")" '{"FROM_EXPORT":"yes","SLURM_CPUS_PER_TASK":"2"}'
check_eq "slurm_env" "$(jq -r .slurm_env <<<"$spec")" true
check "the unknown directives are warnings with line numbers: $(cat warn.txt)" \
  grep -q "job.sh:9: warning: --partition=gpu is not supported" warn.txt
check "... each" grep -q "job.sh:16: warning: --qos=high is not supported" warn.txt
check "nothing after the first command is read" bash -c '! grep -q not-a-directive warn.txt'
check_eq "nothing was submitted" "$("$SUPERCELL" jobs -o json | jq '.jobs | length')" 1

# 2. The command line wins over the directives.
check_eq "-J on the command line wins" "$("$SUPERCELL" sbatch --test-only -J other job.sh 2>/dev/null | jq -r .name)" other

# 3. Submitted: it prints Slurm's line; each element's tasks saw Slurm's
#    variables, output went to the -o / -e files.
out=$("$SUPERCELL" sbatch job.sh one two 2>/dev/null) || fail "sbatch: $out"
check "Slurm's reply: $out" grep -qE '^Submitted batch job j-[0-9]{6}$' <<<"$out"
arr=${out##* }
wait_until 30 "the array to finish" bash -c '[ "$("$1" job -o json "$2" | jq -r .state)" = succeeded ]' _ "$SUPERCELL" "$arr"
anum=$((10#${arr#j-}))
for i in 0 1; do
  el=$(sc_job "${arr}_$i")
  jid=$((10#$(jq -r '.tasks[0].task_id' <<<"$el" | sed 's/^j-0*\([0-9]*\)\..*/\1/')))
  f="$work/out-trainer-$jid.$i.txt"
  check "element $i wrote $f" [ -s "$f" ]
  for rank in 0 1; do
    check "element $i rank $rank saw Slurm's and Supercell's variables: $(grep "proc=$rank " "$f")" \
      grep -q "^job=$jid array=${anum}_$i proc=$rank of 2 local=$rank name=trainer sc=j-$(printf %06d "$jid") idx=$i cuda=[0-3] export=yes args=one two cpus=2 pwd=$work$" "$f"
  done
  check_eq "element $i's stderr went to -e" "$(cat "$work/err-${anum}_$i.txt")" $'to stderr\nto stderr'
done

# 4. --wrap, --parsable, --hold and release, --begin.
id=$("$SUPERCELL" sbatch --parsable --hold --wrap 'echo wrapped $SLURM_JOB_ID')
check "--parsable prints the id: $id" grep -qE '^j-[0-9]{6}$' <<<"$id"
check "held: $(sc_job "$id" | jq -r .pending_reason)" bash -c '[[ $("$1" job -o json "$2" | jq -r .pending_reason) == Held* ]]' _ "$SUPERCELL" "$id"
"$SUPERCELL" release "$id" >/dev/null
sc_wait_job "$id" succeeded 15
check_eq "wrapped output in the logs" "$("$SUPERCELL" logs "$id")" "wrapped $((10#${id#j-}))"
b=$("$SUPERCELL" sbatch --parsable --begin now+60 --wrap true)
check "--begin now+60: $(sc_job "$b" | jq -r .pending_reason)" bash -c '[[ $("$1" job -o json "$2" | jq -r .pending_reason) == BeginTime* ]]' _ "$SUPERCELL" "$b"
"$SUPERCELL" cancel "$b" >/dev/null

# 5. Errors: no shebang, bad values name the line.
printf 'echo no shebang\n' >bad.sh
out=$("$SUPERCELL" sbatch bad.sh 2>&1) && fail "a script without #! was accepted"
check "no #!: $out" grep -q "does not look like a batch script" <<<"$out"
printf '#!/bin/sh\n#SBATCH --time=forever\ntrue\n' >bad2.sh
out=$("$SUPERCELL" sbatch bad2.sh 2>&1) && fail "a bad --time was accepted"
check "bad --time names the line: $out" grep -q "bad2.sh:2: bad value for --time" <<<"$out"
out=$("$SUPERCELL" sbatch --bogus job.sh 2>&1) && fail "an unknown command-line option was accepted"
check "unknown option on the command line is an error: $out" grep -q "unknown or unsupported option '--bogus'" <<<"$out"

sc_finish
