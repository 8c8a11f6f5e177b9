# partition.sh — the partitioning step of fleetboot's installer (sourced by install.sh; POSIX sh
# for busybox ash, plus util-linux sfdisk). Works on block devices and on disk image files
# alike, so test/installer/ runs it against images.
#
#   fb_find_data DISK LABEL       -> the number of the one partition whose ext2/3/4 filesystem
#                                    label (or GPT partition name) is LABEL; exit 2 none, 3 several
#   fb_layout DISK SCHEME LABEL TABLE MIN_ROOT_MIB ESP_MIB ROOT_MIB SCRIPT VARS
#                                 -> writes the sfdisk script of the new table to SCRIPT and the
#                                    partition numbers (FB_P_ROOT, FB_P_ESP, FB_P_BIOS, FB_P_DATA,
#                                    FB_NEW_DATA) to VARS; nothing is written to DISK
#   fb_apply DISK SCHEME SCRIPT   -> writes the table (keep-data: signatures never wiped)
#
# keep-data: every partition but the data one is dropped; the data entry is copied verbatim
# (start, size, type, uuid, name, attributes) and the disk label id is kept; the OS
# partitions go into the larger free region beside it. wipe: a fresh table (gpt or dos):
# [bios_grub (gpt)] [ESP] [root ROOT_MIB] [data: the rest].

FB_GPT_BIOS=21686148-6449-6E6F-744E-656564454649
FB_GPT_ESP=C12A7328-F81F-11D2-BA4B-00A0C93EC93B
FB_GPT_LINUX=0FC63DAF-8483-4772-8E79-3D69D8477DE4

fb_partdev() { # DISK N -> /dev/vda2, /dev/nvme0n1p2 (disk names ending in a digit take a "p")
  case "$1" in *[0-9]) echo "${1}p$2" ;; *) echo "$1$2" ;; esac
}

fb_dump() { # DISK -> sfdisk dump (cached per disk for one step)
  sfdisk -d "$1" 2>/dev/null
}

fb_field() { # LINE KEY -> value of "KEY=value" in an sfdisk dump line
  echo "$1" | tr ',' '\n' | sed -n "s/^ *$2= *//p" | head -n 1
}

fb_sector_size() { # DISK
  s=$(fb_dump "$1" | sed -n 's/^sector-size: *//p')
  echo "${s:-512}"
}

fb_disk_sectors() { # DISK -> size in logical sectors
  ss=$(fb_sector_size "$1")
  if [ -b "$1" ]; then
    n=$(cat "/sys/class/block/$(basename "$1")/size")   # always 512-byte units
    echo $(( n * 512 / ss ))
  else
    echo $(( $(stat -c %s "$1") / ss ))
  fi
}

fb_parts() { # DISK -> "N START SIZE" per partition, from the dump
  fb_dump "$1" | grep ' : ' | while IFS= read -r line; do
    dev=${line%% :*}; dev=${dev%% *}
    n=$(echo "$dev" | sed 's/.*[^0-9]\([0-9][0-9]*\)$/\1/')
    echo "$n $(fb_field "${line#*:}" start) $(fb_field "${line#*:}" size)"
  done
}

fb_ext_label() { # DISK BYTE_OFFSET -> ext2/3/4 label of the filesystem there (empty if none)
  m=$(dd if="$1" bs=1 skip=$(( $2 + 1080 )) count=2 2>/dev/null | od -An -tx1 | tr -d ' \n')
  [ "$m" = 53ef ] || return 0
  dd if="$1" bs=1 skip=$(( $2 + 1144 )) count=16 2>/dev/null | tr -d '\000'
}

fb_find_data() { # DISK LABEL
  ss=$(fb_sector_size "$1")
  found=""
  for p in $(fb_parts "$1" | tr ' ' ':'); do
    n=${p%%:*}; rest=${p#*:}; start=${rest%%:*}
    lab=$(fb_ext_label "$1" $(( start * ss )))
    name=$(fb_dump "$1" | grep ' : ' | sed -n "s/^[^ ]*[^0-9]$n : .*name=\"\([^\"]*\)\".*/\1/p")
    if [ "$lab" = "$2" ] || [ "$name" = "$2" ]; then found="$found $n"; fi
  done
  set -- $found
  [ $# -eq 0 ] && return 2
  [ $# -gt 1 ] && { echo "$*"; return 3; }
  echo "$1"
}

fb_align_up() { echo $(( ($1 + $2 - 1) / $2 * $2 )); }

fb_layout() { # DISK SCHEME LABEL TABLE MIN_ROOT_MIB ESP_MIB ROOT_MIB SCRIPT VARS
  disk=$1 scheme=$2 label=$3 table=$4 minroot=$5 espmib=$6 rootmib=$7 out=$8 vars=$9
  ss=$(fb_sector_size "$disk")
  mib=$(( 1048576 / ss ))
  total=$(fb_disk_sectors "$disk")
  : > "$out"
  if [ "$scheme" = wipe ]; then
    [ "$table" = gpt ] || table=dos
    first=$mib
    if [ "$table" = gpt ]; then last=$(( total - 34 )); else last=$(( total - 1 )); fi
    need=$(( first + (1 + espmib + rootmib + 64) * mib ))
    [ "$need" -le "$last" ] || { echo "disk too small for wipe: needs $(( need / mib )) MiB, has $(( total / mib )) MiB"; return 4; }
    { echo "label: $table"; echo "unit: sectors"; echo; } >> "$out"
    s=$first
    if [ "$table" = gpt ]; then
      echo "start=$s, size=$mib, type=$FB_GPT_BIOS, name=\"bios_grub\"" >> "$out"; s=$(( s + mib ))
      echo "start=$s, size=$(( espmib * mib )), type=$FB_GPT_ESP, name=\"esp\"" >> "$out"; s=$(( s + espmib * mib ))
      echo "start=$s, size=$(( rootmib * mib )), type=$FB_GPT_LINUX, name=\"root\"" >> "$out"; s=$(( s + rootmib * mib ))
      echo "start=$s, type=$FB_GPT_LINUX, name=\"$label\"" >> "$out"
      echo "FB_P_BIOS=1 FB_P_ESP=2 FB_P_ROOT=3 FB_P_DATA=4 FB_NEW_DATA=1 FB_TABLE=gpt" > "$vars"
    else
      echo "start=$s, size=$(( espmib * mib )), type=ef" >> "$out"; s=$(( s + espmib * mib ))
      echo "start=$s, size=$(( rootmib * mib )), type=83, bootable" >> "$out"; s=$(( s + rootmib * mib ))
      echo "start=$s, type=83" >> "$out"
      echo "FB_P_BIOS= FB_P_ESP=1 FB_P_ROOT=2 FB_P_DATA=3 FB_NEW_DATA=1 FB_TABLE=dos" > "$vars"
    fi
    return 0
  fi
  # keep-data
  dn=$(fb_find_data "$disk" "$label"); rc=$?
  [ $rc -eq 2 ] && { echo "no partition labelled \"$label\" on $disk: keep-data refuses to guess"; return 2; }
  [ $rc -eq 3 ] && { echo "several partitions labelled \"$label\" on $disk ($dn): keep-data refuses to guess"; return 3; }
  dump=$(fb_dump "$disk")
  table=$(echo "$dump" | sed -n 's/^label: *//p')
  labelid=$(echo "$dump" | sed -n 's/^label-id: *//p')
  dline=$(echo "$dump" | grep ' : ' | grep "[^0-9]$dn : ")
  dstart=$(fb_field "${dline#*:}" start); dsize=$(fb_field "${dline#*:}" size)
  if [ "$table" = gpt ]; then
    first=$(echo "$dump" | sed -n 's/^first-lba: *//p'); last=$(echo "$dump" | sed -n 's/^last-lba: *//p')
  else
    [ "$dn" -le 4 ] || { echo "the data partition $dn is a logical partition: keep-data needs a primary one"; return 5; }
    first=$mib; last=$(( total - 1 ))
  fi
  first=$(fb_align_up "$first" "$mib")
  # the larger of the free regions before and after the data partition
  a_s=$first; a_e=$(( dstart - 1 ))
  b_s=$(fb_align_up $(( dstart + dsize )) "$mib"); b_e=$last
  if [ $(( a_e - a_s )) -ge $(( b_e - b_s )) ]; then rs=$a_s; re=$a_e; else rs=$b_s; re=$b_e; fi
  boot=$(( espmib * mib )); [ "$table" = gpt ] && boot=$(( boot + mib ))
  rsize=$(( (re - rs + 1 - boot) / mib * mib ))
  [ "$rsize" -ge $(( minroot * mib )) ] || { echo "no room beside the data partition: the largest free region holds $(( (re - rs + 1) / mib )) MiB, the OS needs $(( minroot + boot / mib )) MiB"; return 4; }
  # partition numbers: the lowest ones the data partition does not use
  nums=""; i=1
  while [ "$(echo $nums | wc -w)" -lt 3 ]; do [ "$i" != "$dn" ] && nums="$nums $i"; i=$((i + 1)); done
  set -- $nums
  dev() { echo "$(fb_partdev "$disk" "$1")"; }
  { echo "label: $table"; [ -n "$labelid" ] && echo "label-id: $labelid"; echo "unit: sectors"; echo; } >> "$out"
  s=$rs
  if [ "$table" = gpt ]; then
    echo "$(dev $1) : start=$s, size=$mib, type=$FB_GPT_BIOS, name=\"bios_grub\"" >> "$out"; s=$(( s + mib ))
    echo "$(dev $2) : start=$s, size=$(( espmib * mib )), type=$FB_GPT_ESP, name=\"esp\"" >> "$out"; s=$(( s + espmib * mib ))
    echo "$(dev $3) : start=$s, size=$rsize, type=$FB_GPT_LINUX, name=\"root\"" >> "$out"
    echo "FB_P_BIOS=$1 FB_P_ESP=$2 FB_P_ROOT=$3 FB_P_DATA=$dn FB_NEW_DATA=0 FB_TABLE=gpt" > "$vars"
  else
    echo "$(dev $1) : start=$s, size=$(( espmib * mib )), type=ef" >> "$out"; s=$(( s + espmib * mib ))
    echo "$(dev $2) : start=$s, size=$rsize, type=83, bootable" >> "$out"
    echo "FB_P_BIOS= FB_P_ESP=$1 FB_P_ROOT=$2 FB_P_DATA=$dn FB_NEW_DATA=0 FB_TABLE=dos" > "$vars"
  fi
  echo "$dline" >> "$out"
  return 0
}

fb_apply() { # DISK SCHEME SCRIPT
  if [ "$2" = wipe ]; then w=always; else w=never; fi
  # sorted by start: sfdisk takes the device names for the numbers, in any order
  sfdisk -q --wipe "$w" --wipe-partitions "$w" "$1" < "$3"
}
