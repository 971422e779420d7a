#!/bin/sh
# vm-bmc-hook.sh: the ipmi_sim chassis_control hook that makes a simulated BMC really power a qemu VM.
#   vm-bmc-hook.sh DIR get power|boot ...            -> "power:1|0", "boot:<dev>"
#   vm-bmc-hook.sh DIR set power 0|1 | reset 1 | shutdown 1 | boot DEV | identify X ...
# ipmi_sim popen()s this and reads stdout to EOF, and it is single-threaded: the "get" path uses shell
# builtins only, and qemu is started in the background with every descriptor pointed away from the pipe
# (vm-bmc-launch.sh closes whatever else it inherited).
# DIR holds: boot (device), qemu.pid ("PID STARTTIME"), ctl.in (qemu HMP FIFO), events.log, qemu.log,
# and optionally reset_delay (a test knob: see "reset" below).
d=$1; op=$2; shift 2 || exit 1
here=${0%/*}

# VM_PID/VM_START <- this VM's qemu if it is alive. PID 1 here reaps slowly, so a pid alone proves
# nothing: the /proc starttime must match and a zombie counts as dead.
alive() {
    VM_PID=; VM_START=
    { read -r p t < "$d/qemu.pid"; } 2>/dev/null || return 1
    { read -r s < "/proc/$p/stat"; } 2>/dev/null || return 1
    set -- ${s##*) }
    case $1 in Z|X) return 1 ;; esac
    [ "${20}" = "$t" ] || return 1
    VM_PID=$p; VM_START=$t
}
# HMP commands into the running qemu's monitor FIFO (an O_RDWR open of a FIFO never blocks).
ctl() {
    [ -p "$d/ctl.in" ] || return 1
    { printf '%s\n' "$@" 1<>"$d/ctl.in"; } 2>/dev/null
}
# Make the running qemu's next reset (by the BMC or by the guest) boot from the BMC's boot device.
push_boot() {
    b=none; { read -r b < "$d/boot"; } 2>/dev/null
    if [ "$b" = pxe ]; then first=nic0 second=disk0; else first=disk0 second=nic0; fi
    ctl "qom-set /machine/peripheral/nic0 bootindex -1" "qom-set /machine/peripheral/disk0 bootindex -1" \
        "qom-set /machine/peripheral/$first bootindex 1" "qom-set /machine/peripheral/$second bootindex 2"
}
starttime() {
    s=; { read -r s < "/proc/$1/stat"; } 2>/dev/null; set -- ${s##*) }; ST=${20:-0}
}
ev() { echo "$*" >> "$d/events.log"; }

case $op in
get)
    for x in "$@"; do
        case $x in
        power) if alive; then echo power:1; else echo power:0; fi ;;
        boot) v=none; { read -r v < "$d/boot"; } 2>/dev/null; echo "boot:$v" ;;
        *) echo "invalid parameter $x"; exit 1 ;;
        esac
    done ;;
set)
    while [ $# -ge 2 ]; do
        p=$1; v=$2; shift 2
        case $p in
        power)
            if [ "$v" = 1 ]; then
                if alive; then ev "power on: already on"; continue; fi
                old=; { read -r old < "$d/qemu.pid.old"; } 2>/dev/null
                # A background child of a non-interactive shell is no process-group leader, so setsid(1)
                # does not fork: $! is the launcher, which exec()s qemu (same pid, same starttime).
                setsid /bin/bash "$here/vm-bmc-launch.sh" "$d" $old </dev/null >>"$d/qemu.log" 2>&1 &
                np=$!; starttime "$np"
                echo "$np $ST" > "$d/qemu.pid"
                b=none; { read -r b < "$d/boot"; } 2>/dev/null
                ev "power on: boot=$b"
            else
                if alive; then
                    kill -KILL "$VM_PID" 2>/dev/null
                    echo "$VM_PID $VM_START" > "$d/qemu.pid.old"
                    ev "power off: killed"
                else ev "power off: already off"; fi
                rm -f "$d/qemu.pid"
            fi ;;
        reset)
            # Test knob (one-shot): a BMC that acknowledges at once but carries the reset out late: once the guest has
            # powered itself off, or after reset_delay seconds — so a guest's own poweroff deterministically wins.
            # In the background: the single-threaded sim must not wait for it.
            if [ -f "$d/reset_delay" ]; then
                read -r delay < "$d/reset_delay"; rm -f "$d/reset_delay"
                ev "reset: acknowledged, carried out late"
                alive; was=$VM_PID
                (n=0; while [ $n -lt $((delay * 10)) ] && alive && [ "$VM_PID" = "$was" ]; do sleep 0.1; n=$((n + 1)); done
                 exec /bin/sh "$0" "$d" set reset_now 1) </dev/null >/dev/null 2>&1 &
            elif alive; then push_boot; ctl system_reset; ev "reset"; else ev "reset: ignored, power is off"; fi ;;
        reset_now)
            if alive; then push_boot; ctl system_reset; ev "reset"; else ev "reset: ignored, power is off"; fi ;;
        shutdown)
            if alive; then ctl system_powerdown; ev "soft off"; else ev "soft off: ignored, power is off"; fi ;;
        boot)
            case $v in none|pxe|default|cdrom|bios) ;; *) echo "invalid boot device $v"; exit 1 ;; esac
            echo "$v" > "$d/boot"
            if alive; then push_boot; ev "boot $v (pushed to the running VM)"; else ev "boot $v"; fi ;;
        identify) echo "$v" > "$d/identify" ;;
        *) echo "invalid parameter $p"; exit 1 ;;
        esac
    done ;;
*) echo "unknown operation $op"; exit 1 ;;
esac
exit 0
