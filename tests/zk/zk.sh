#!/usr/bin/env bash
# tests/zk/zk.sh: starts and stops Debian's ZooKeeper server (one node or a 3-node
# ensemble on loopback) for tests and the demo. Needs only bash, coreutils, a JRE and the
# `zookeeper` package (/usr/share/java/zookeeper.jar).
#
#   zk.sh start DIR [PORT]     one server; prints 127.0.0.1:PORT (a free port if none given)
#   zk.sh ensemble DIR         three servers; prints the connect string
#   zk.sh stop DIR             stops every server started under DIR (waits for exit)
#   zk.sh kill-leader DIR      SIGKILLs the ensemble's current leader (found with srvr);
#                              prints its node number
#   zk.sh leader DIR           prints the node number of the current leader
#   zk.sh restart-node DIR N   starts ensemble node N again (after kill-leader)
#   zk.sh restart DIR          stops one server and starts it again on the same port with
#                              its data kept (sessions survive if it is back in time)
#
# Layout: DIR/zoo.cfg, DIR/data, DIR/zk.log, DIR/zk.pid, DIR/connect for one server;
# DIR/n1..n3/{zoo.cfg,data,zk.log,zk.pid,port} and DIR/connect for an ensemble.
# Env: ZK_TICK_MS (tickTime, default 2000; sessions are clamped to 2..20 ticks),
# ZK_START_TIMEOUT (seconds to wait for imok, default 30), ZK_JAR (server jar).
set -u

ZK_JAR=${ZK_JAR:-/usr/share/java/zookeeper.jar}
ZK_TICK_MS=${ZK_TICK_MS:-2000}
ZK_START_TIMEOUT=${ZK_START_TIMEOUT:-30}

die() { echo "zk.sh: $*" >&2; exit 2; }

# 4-letter word over bash's /dev/tcp; prints the answer (empty when nothing listens).
fourlw() { # port word
    timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$1"' || exit 1; printf %s '"$2"' >&3; cat <&3' 2>/dev/null
}

port_busy() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# A port nothing listens on, in a range away from the usual ephemeral range start.
# Ports handed out in this run are remembered so one call never returns the same twice.
TAKEN=" "
free_port() {
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
        [[ $TAKEN == *" $p "* ]] && continue
        port_busy "$p" && continue
        TAKEN+="$p "
        echo "$p"
        return 0
    done
    return 1
}

classpath() {
    local cp=$ZK_JAR
    [[ -f /usr/share/java/slf4j-simple.jar ]] && cp+=:/usr/share/java/slf4j-simple.jar
    echo "$cp"
}

write_cfg() { # dir port [extra lines]
    local d=$1 port=$2; shift 2
    mkdir -p "$d/data"
    {
        echo "tickTime=$ZK_TICK_MS"
        echo "dataDir=$d/data"
        echo "clientPort=$port"
        echo "clientPortAddress=127.0.0.1"
        echo "admin.enableServer=false"
        echo "4lw.commands.whitelist=ruok,srvr,stat,mntr"
        echo "maxClientCnxns=0"
        for l in "$@"; do echo "$l"; done
    } >"$d/zoo.cfg"
}

launch() { # dir: starts the JVM in the background, records its pid
    local d=$1
    # Same process group as the caller: a test runner killed as a group takes the server.
    java -Xmx256m -XX:+UseSerialGC -Dzookeeper.admin.enableServer=false \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=info \
        -cp "$(classpath)" org.apache.zookeeper.server.quorum.QuorumPeerMain "$d/zoo.cfg" \
        </dev/null >"$d/zk.log" 2>&1 &
    echo $! >"$d/zk.pid"
}

alive() { [[ -f $1/zk.pid ]] && kill -0 "$(cat "$1/zk.pid")" 2>/dev/null; }

wait_imok() { # dir port timeout_s: 0 when imok, 1 when the JVM died, 2 on timeout
    local d=$1 port=$2 deadline=$((SECONDS + $3))
    while ((SECONDS < deadline)); do
        [[ $(fourlw "$port" ruok) == imok ]] && return 0
        alive "$d" || return 1
        sleep 0.1
    done
    return 2
}

stop_dir() { # dir: TERM, wait up to 10 s, then KILL
    local d=$1 pid i
    [[ -f $d/zk.pid ]] || return 0
    pid=$(cat "$d/zk.pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null
        for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
        for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$d/zk.pid"
}

cmd_start() { # dir [port]
    local d=$1 want=${2:-} port try rc
    [[ -f $ZK_JAR ]] || die "$ZK_JAR not found: install Debian's zookeeper package"
    command -v java >/dev/null || die "java not found: install a JRE (default-jre-headless)"
    mkdir -p "$d" || die "cannot create $d"
    d=$(cd "$d" && pwd)
    alive "$d" && die "a server started from $d is still running (pid $(cat "$d/zk.pid")); stop it first"
    for ((try = 0; try < 5; try++)); do
        if [[ -n $want ]]; then port=$want; else port=$(free_port) || die "no free port found"; fi
        rm -rf "$d/data"
        write_cfg "$d" "$port"
        launch "$d"
        wait_imok "$d" "$port" "$ZK_START_TIMEOUT"
        rc=$?
        if ((rc == 0)); then
            echo "127.0.0.1:$port" >"$d/connect"
            echo "127.0.0.1:$port"
            return 0
        fi
        stop_dir "$d"
        # a port taken between the probe and the bind: try another one
        [[ -z $want ]] && grep -q -i 'address already in use' "$d/zk.log" && continue
        break
    done
    tail -n 20 "$d/zk.log" >&2
    die "server in $d did not answer ruok on port $port (see $d/zk.log)"
}

cmd_ensemble() { # dir
    local d=$1 i try ok p servers cs
    [[ -f $ZK_JAR ]] || die "$ZK_JAR not found: install Debian's zookeeper package"
    mkdir -p "$d" || die "cannot create $d"
    d=$(cd "$d" && pwd)
    for i in 1 2 3; do alive "$d/n$i" && die "$d/n$i is still running; stop it first"; done
    for ((try = 0; try < 3; try++)); do
        local cports=() servers=()
        for i in 1 2 3; do
            cports[i]=$(free_port) || die "no free port found"
            servers+=("server.$i=127.0.0.1:$(free_port):$(free_port)")
        done
        for i in 1 2 3; do
            rm -rf "$d/n$i/data"
            write_cfg "$d/n$i" "${cports[i]}" initLimit=10 syncLimit=5 "${servers[@]}"
            echo "$i" >"$d/n$i/data/myid"
            echo "${cports[i]}" >"$d/n$i/port"
        done
        for i in 1 2 3; do launch "$d/n$i"; done
        ok=1
        for i in 1 2 3; do wait_imok "$d/n$i" "${cports[i]}" "$ZK_START_TIMEOUT" || ok=0; done
        if ((ok)); then
            # imok comes before the quorum forms; wait until every node has a mode
            local deadline=$((SECONDS + ZK_START_TIMEOUT)) n
            while ((SECONDS < deadline)); do
                n=0
                for i in 1 2 3; do fourlw "${cports[i]}" srvr | grep -q '^Mode: \(leader\|follower\)' && n=$((n + 1)); done
                ((n == 3)) && break
                sleep 0.1
            done
            if ((n == 3)); then
                cs="127.0.0.1:${cports[1]},127.0.0.1:${cports[2]},127.0.0.1:${cports[3]}"
                echo "$cs" >"$d/connect"
                echo "$cs"
                return 0
            fi
        fi
        for i in 1 2 3; do stop_dir "$d/n$i"; done
        grep -q -i 'address already in use' "$d"/n*/zk.log || break
    done
    for i in 1 2 3; do echo "== n$i" >&2; tail -n 10 "$d/n$i/zk.log" >&2; done
    die "ensemble in $d did not form (see $d/n*/zk.log)"
}

leader_node() { # dir: prints the node number whose srvr says leader
    local d=$1 i
    for i in 1 2 3; do
        [[ -f $d/n$i/port ]] || continue
        alive "$d/n$i" || continue
        if fourlw "$(cat "$d/n$i/port")" srvr | grep -q '^Mode: leader'; then echo "$i"; return 0; fi
    done
    return 1
}

cmd_kill_leader() { # dir
    local d=$1 i pid j
    for ((j = 0; j < 100; j++)); do i=$(leader_node "$d") && break; sleep 0.1; done
    [[ -n ${i:-} ]] || die "no leader found in $d"
    pid=$(cat "$d/n$i/zk.pid")
    kill -9 "$pid" 2>/dev/null
    for ((j = 0; j < 50; j++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$d/n$i/zk.pid"
    echo "$i"
}

cmd_restart_node() { # dir n
    local d=$1 i=$2
    [[ -f $d/n$i/zoo.cfg ]] || die "$d/n$i is not an ensemble node"
    alive "$d/n$i" && die "$d/n$i is running"
    launch "$d/n$i"
    wait_imok "$d/n$i" "$(cat "$d/n$i/port")" "$ZK_START_TIMEOUT" || die "node $i did not answer ruok"
}

cmd_restart() { # dir: same config, same data, same port
    local d=$1 port
    [[ -f $d/zoo.cfg && -f $d/connect ]] || die "$d has no server started by zk.sh start"
    port=$(sed -n 's/^clientPort=//p' "$d/zoo.cfg")
    stop_dir "$d"
    launch "$d"
    wait_imok "$d" "$port" "$ZK_START_TIMEOUT" || die "server in $d did not come back (see $d/zk.log)"
    cat "$d/connect"
}

cmd_stop() { # dir
    local d=$1 f
    [[ -d $d ]] || return 0
    for f in "$d/zk.pid" "$d"/n*/zk.pid; do
        [[ -f $f ]] || continue
        stop_dir "$(dirname "$f")" &
    done
    wait
    return 0
}

[[ $# -ge 2 ]] || die "usage: zk.sh start DIR [PORT] | ensemble DIR | stop DIR | restart DIR | kill-leader DIR | leader DIR | restart-node DIR N"
case $1 in
start) cmd_start "$2" "${3:-}" ;;
ensemble) cmd_ensemble "$2" ;;
stop) cmd_stop "$2" ;;
kill-leader) cmd_kill_leader "$2" ;;
leader) leader_node "$2" || die "no leader found in $2" ;;
restart) cmd_restart "$2" ;;
restart-node) [[ $# -ge 3 ]] || die "usage: zk.sh restart-node DIR N"; cmd_restart_node "$2" "$3" ;;
*) die "unknown command \"$1\"" ;;
esac
