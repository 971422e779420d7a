module rackhand/ramdisk/agent

go 1.19
