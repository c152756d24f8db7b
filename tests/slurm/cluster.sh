#!/usr/bin/env bash
# A real Slurm cluster on localhost, for the tests (root, no systemd, no cgroups).
#   cluster.sh start DIR [NODES]  configure in DIR and start munged, slurmctld and one
#                          slurmd per node; prints the line to eval:
#                          export SLURM_CONF=DIR/etc/slurm.conf
#                          NODES=1 (default): one node, "localhost", with every CPU.
#                          NODES=2: nodes n1 and n2, two slurmd on this machine (their own
#                          ports, spool, pid and log files), the CPUs and memory split --
#                          a multi-node allocation on one machine. Steps that span both
#                          with srun --mpi=pmix fail here (both slurmstepds create the same
#                          /tmp/spmix_appdir_<uid>_<job>.<step>); mpirun's launch works.
#   cluster.sh stop DIR    stop the daemons (by their pid files) and wait for them
# Exit 77 from start: Slurm or munge is not installed, or not root (a test then skips).
# Needs: apt-get install --no-install-recommends slurmctld slurmd slurm-client munge libpmix-dev
# (scripts/install-deps.sh --test). Ports 6817/6818 and munge's socket are fixed: one
# cluster per machine at a time (CTest's RESOURCE_LOCK slurm).
set -uo pipefail
cmd=${1:?start or stop} dir=${2:?directory} nodes=${3:-1}
dir=$(mkdir -p "$dir" && cd "$dir" && pwd)  # absolute: daemons given a relative -f chdir to / and hang
conf=$dir/etc/slurm.conf

stop_pidfile() {  # pidfile: TERM the daemon, wait up to 10 s, then KILL
  local f=$1 pid
  [ -s "$f" ] || return 0
  pid=$(cat "$f")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
}

if [ "$cmd" = stop ]; then
  scancel --full --quiet -u root >/dev/null 2>&1 || true
  for f in "$dir"/run/slurmd*.pid; do stop_pidfile "$f"; done
  stop_pidfile "$dir/run/slurmctld.pid"
  stop_pidfile "$dir/run/munged.pid"
  exit 0
fi
[ "$cmd" = start ] || { echo "usage: cluster.sh start|stop DIR" >&2; exit 2; }

for b in slurmctld slurmd sbatch munged unmunge; do
  command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] || { echo "cluster.sh: $b not installed" >&2; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { echo "cluster.sh: needs root" >&2; exit 77; }
for p in 6817 6818; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "cluster.sh: port $p is in use: another Slurm runs here (stop it first)" >&2; exit 1
  fi
done

rm -rf "$dir"/{etc,state,spool,log,run}
mkdir -p "$dir"/{etc,state,spool,log,run}
ncpu=$(nproc)
mem=$(free -m | awk '/^Mem:/ {print int($2 * 0.9)}')  # more than slurmd detects drains the node
case $nodes in
  1) names=(localhost)
     node_lines="NodeName=localhost NodeAddr=127.0.0.1 CPUs=$ncpu RealMemory=$mem State=UNKNOWN" ;;
  2) [ "$ncpu" -ge 2 ] || { echo "cluster.sh: two nodes need two CPUs" >&2; exit 77; }
     names=(n1 n2)
     node_lines="NodeName=n1 NodeHostname=localhost NodeAddr=127.0.0.1 Port=17101 CPUs=$((ncpu / 2)) RealMemory=$((mem / 2)) State=UNKNOWN
NodeName=n2 NodeHostname=localhost NodeAddr=127.0.0.1 Port=17102 CPUs=$((ncpu / 2)) RealMemory=$((mem / 2)) State=UNKNOWN" ;;
  *) echo "cluster.sh: NODES must be 1 or 2" >&2; exit 2 ;;
esac
for n in "${names[@]}"; do mkdir -p "$dir/spool/$n"; done
cat >"$conf" <<EOF
ClusterName=liratest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MailProg=/bin/true
MinJobAge=3600
KillWait=30
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
$node_lines
PartitionName=debug Nodes=$(IFS=,; echo "${names[*]}") Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF

# Slurm 24.x's slurmd initializes a cgroup plugin even with proctrack/linuxproc and
# task/none, and fails where no cgroup filesystem is mounted (a chroot, a container);
# these daemons use none, so say so (Slurm 22.05, Debian 12's, has no such setting).
slurm_major=$(slurmd -V 2>/dev/null | sed -n 's/^slurm[^ ]* \([0-9]*\)\..*/\1/p')
if [ "${slurm_major:-0}" -ge 24 ]; then
  echo "CgroupPlugin=disabled" >"$dir/etc/cgroup.conf"
fi

[ -s /etc/munge/munge.key ] || /usr/sbin/mungekey -c -k /etc/munge/munge.key
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
install -d -o munge -g munge -m 755 /run/munge
runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid.lira || {
  echo "cluster.sh: munged did not start" >&2; exit 1; }
cp /run/munge/munged.pid.lira "$dir/run/munged.pid" 2>/dev/null
munge -n | unmunge >/dev/null || { echo "cluster.sh: munge does not work" >&2; exit 1; }
export SLURM_CONF=$conf
slurmctld -c -f "$conf" || { tail -20 "$dir/log/slurmctld.log" >&2; exit 1; }
for n in "${names[@]}"; do
  slurmd -f "$conf" -N "$n" || { tail -20 "$dir/log/slurmd-$n.log" >&2; exit 1; }
done
states() { sinfo -h -o %T 2>/dev/null | sort -u | tr '\n' ' '; }
for _ in $(seq 60); do
  [ "$(states)" = "idle " ] && break
  sleep 0.5
done
if [ "$(states)" != "idle " ]; then
  echo "cluster.sh: the nodes did not become idle:" >&2
  sinfo -R >&2; tail -n 20 "$dir"/log/*.log >&2
  exit 1
fi
echo "export SLURM_CONF=$conf"
