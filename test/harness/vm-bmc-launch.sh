#!/bin/bash
# vm-bmc-launch.sh DIR [OLDPID OLDSTART]: started in the background by vm-bmc-hook.sh on "power on".
# Drops every descriptor inherited from ipmi_sim (a child holding its hook pipe or sockets freezes the BMC),
# waits until the previous qemu of this VM is gone (it holds the tap and the disk), then exec()s qemu with
# the argv for the current boot device (DIR/qemu-pxe.argv or DIR/qemu-disk.argv, written by vm-bmc.ts).
d=$1; opid=${2:-}; ostart=${3:-}
for f in /proc/$$/fd/*; do
    n=${f##*/}
    [[ $n =~ ^[0-9]+$ ]] && (( n > 2 && n < 255 )) && eval "exec $n>&-" 2>/dev/null
done
alive() {
    local s f
    s=$(< "/proc/$1/stat") 2>/dev/null || return 1
    f=(${s##*) })
    [[ ${f[0]} != [ZX] && ${f[19]} == "$2" ]]
}
if [ -n "$opid" ]; then
    for _ in $(seq 1 100); do alive "$opid" "$ostart" || break; sleep 0.05; done
fi
boot=none
[ -r "$d/boot" ] && read -r boot < "$d/boot"
if [ "$boot" = pxe ]; then argv=$d/qemu-pxe.argv; else argv=$d/qemu-disk.argv; fi
# A fresh control FIFO: nothing written while no qemu was reading may reach this one.
rm -f "$d/ctl.in" "$d/ctl.out"
mkfifo "$d/ctl.in" "$d/ctl.out"
echo "=== launch pid=$$ boot=$boot"
eval "exec $(< "$argv")"
