# fixture.tcl: a stand-in for an AI agent's chat window, driven by desktoptest.
#
#   wish fixture.tcl -- NAME RECORD_DIR INBOX ACK_DELAY_MS NEVER_ACK_FIRST PASTE_DELAY_MS GEOMETRY ORDERED_KEYS [HOOK_COMMAND HOOK_WORKSPACE]
#
# The input is a 3-line text widget, not an entry: an entry drops the newlines
# of a multi-line paste. Enter submits; Shift+Enter inserts a newline.
# Ctrl+V pastes the CLIPBOARD (after PASTE_DELAY_MS, to play a slow window);
# Ctrl+Z takes the last paste back out of the input.
# A submit is written to RECORD_DIR/NNNNNN.txt; every envelope line
# "[agentspool id=ID ..." in it is acked by INBOX/ID.ack after ACK_DELAY_MS,
# except on the very first submit when NEVER_ACK_FIRST is 1.
# With HOOK_COMMAND (a shell command line, as in a Cursor hooks.json entry)
# the window plays Cursor instead: on each submit of a non-blank input it
# runs "sh -c HOOK_COMMAND" in HOOK_WORKSPACE with Cursor's
# beforeSubmitPrompt JSON on stdin, and submits only if the hook exits 0
# and answers {"continue": true}; otherwise the text stays in the input.
# It never writes an ack itself then: the hook does. Each call is kept in
# RECORD_DIR/../hooks: NNNNNN.json (stdin), NNNNNN.err (stderr), then
# NNNNNN.out ("exit=N", "continue=0|1", then stdout), written last.
# Once mapped, the window writes RECORD_DIR/../ready (see writeReady).
# Every file is written to a dot-named .tmp and renamed into place, so a
# reader never sees half of one.

if {$argc != 8 && $argc != 10} {
    puts stderr "usage: wish fixture.tcl -- NAME RECORD_DIR INBOX ACK_DELAY_MS NEVER_ACK_FIRST PASTE_DELAY_MS GEOMETRY ORDERED_KEYS \[HOOK_COMMAND HOOK_WORKSPACE\]"
    exit 2
}
lassign $argv name recordDir inbox ackDelay neverAckFirst pasteDelay geometry orderedKeys hookCmd hookWorkspace
set hookSeq 0
set hookDir [file join [file dirname $recordDir] hooks]

set seq 0
set history {}
set busy 0
set pending {}

# act runs one key action (paste, undoPaste, submit, newline) in the order
# the keys came. Order needs care: "clipboard get" runs a nested event loop
# while it waits for the selection owner, and without this an Enter typed
# after Ctrl+V would be handled inside the paste, submitting the input
# before the text is in it. So while a paste is under way, later actions
# queue and run after it, as keys do in an app whose UI thread is busy.
# That is only with ORDERED_KEYS=1; by default the window behaves as plain
# Tk does, and a deliverer that presses Enter too early loses the message.
proc act {w action} {
    global busy pending orderedKeys
    if {$busy && $orderedKeys} {
        lappend pending $action
        return
    }
    $action $w
    while {!$busy && [llength $pending] > 0} {
        set pending [lassign $pending next]
        $next $w
    }
}

proc newline {w} {
    $w insert insert "\n"
}

# An error must not open Tk's error dialog: a new window would take focus
# from the test. It goes to stderr, which the harness keeps in <Dir>/logs.
proc bgerror {msg} {
    puts stderr "fixture error: $msg\n$::errorInfo"
}

proc writeAtomic {path data} {
    set tmp [file join [file dirname $path] ".[file tail $path].tmp"]
    set f [open $tmp w]
    fconfigure $f -encoding utf-8 -translation lf
    puts -nonewline $f $data
    close $f
    file rename -force -- $tmp $path
}

proc clipboardText {} {
    # UTF8_STRING first: the STRING target is Latin-1 and loses the rest.
    foreach type {UTF8_STRING STRING} {
        if {![catch {clipboard get -type $type} text]} {
            return $text
        }
    }
    return ""
}

proc paste {w} {
    global pasteDelay busy
    set busy 1
    if {$pasteDelay > 0} {
        # A blocking sleep, on purpose: a busy window does not take keys
        # either; they wait in the X queue and come in order after it.
        after $pasteDelay
    }
    set text [clipboardText]
    set busy 0
    catch {$w delete sel.first sel.last}
    $w mark set pasteStart insert
    $w mark gravity pasteStart left
    $w insert insert $text
    $w mark set pasteEnd insert
    $w see insert
}

proc undoPaste {w} {
    if {[lsearch -exact [$w mark names] pasteStart] >= 0} {
        $w delete pasteStart pasteEnd
        $w mark unset pasteStart pasteEnd
    }
}

# uuid is a random version-4 UUID, as Cursor's conversation and
# generation ids are.
proc uuid {} {
    set r {}
    for {set i 0} {$i < 8} {incr i} {
        lappend r [expr {int(rand() * 0x10000)}]
    }
    lassign $r a b c d e f g h
    return [format %04x%04x-%04x-4%03x-%04x-%04x%04x%04x $a $b $c [expr {$d & 0xfff}] [expr {($e & 0x3fff) | 0x8000}] $f $g $h]
}

# jsonString is s as a JSON string literal (the file is written as UTF-8).
proc jsonString {s} {
    set s [string map {\\ \\\\ \" \\\" \n \\n \r \\r \t \\t \b \\b \f \\f} $s]
    if {[regexp {[\x00-\x1f]} $s]} {
        set out ""
        foreach c [split $s ""] {
            scan $c %c n
            if {$n < 0x20} {
                append out [format \\u%04x $n]
            } else {
                append out $c
            }
        }
        set s $out
    }
    return "\"$s\""
}

# runHook calls the hook as Cursor calls a beforeSubmitPrompt command, and
# reports whether it lets the prompt go. The window waits for it, as
# Cursor's prompt does.
proc runHook {text} {
    global hookCmd hookWorkspace hookDir hookSeq conversationId
    incr hookSeq
    set base [file join $hookDir [format %06d $hookSeq]]
    set payload "\{\n"
    append payload "  \"conversation_id\": [jsonString $conversationId],\n"
    append payload "  \"generation_id\": [jsonString [uuid]],\n"
    append payload "  \"hook_event_name\": \"beforeSubmitPrompt\",\n"
    append payload "  \"workspace_roots\": \[[jsonString $hookWorkspace]\],\n"
    append payload "  \"prompt\": [jsonString $text],\n"
    append payload "  \"attachments\": \[\]\n"
    append payload "\}\n"
    writeAtomic $base.json $payload
    set exit 0
    if {[catch {exec -keepnewline sh -c $hookCmd < $base.json 2> $base.err} out opts]} {
        set ec [dict get $opts -errorcode]
        if {[lindex $ec 0] eq "CHILDSTATUS"} {
            set exit [lindex $ec 2]
        } else {
            set exit -1
            append out "\n$ec"
        }
    }
    set ok [expr {$exit == 0 && [regexp {"continue"\s*:\s*true} $out]}]
    writeAtomic $base.out "exit=$exit\ncontinue=$ok\n$out"
    if {!$ok} {
        puts stderr "fixture: hook call [file tail $base] stopped the prompt (exit $exit): $out"
    }
    return $ok
}

proc submit {w} {
    global seq recordDir inbox ackDelay neverAckFirst history hookCmd
    set text [$w get 1.0 end-1c]
    # Cursor sends no blank prompt, so runs no hook for one; the window
    # still records it, for a test to see an empty submit.
    if {$hookCmd ne "" && [string trim $text] ne "" && ![runHook $text]} {
        return
    }
    incr seq
    writeAtomic [file join $recordDir [format %06d.txt $seq]] $text
    $w delete 1.0 end
    catch {$w mark unset pasteStart pasteEnd}

    lappend history $text
    set history [lrange $history end-3 end]
    .shown configure -text [join $history "\n----\n"]

    if {$hookCmd ne "" || ($seq == 1 && $neverAckFirst)} {
        return
    }
    foreach {_ id} [regexp -all -inline -line {\[agentspool id=(\S+) } $text] {
        after $ackDelay [list writeAtomic [file join $inbox $id.ack] "$id\n"]
    }
}

proc writeReady {} {
    global recordDir
    update idletasks
    set ready [file join [file dirname $recordDir] ready]
    writeAtomic $ready [format "rootx=%d\nrooty=%d\nwidth=%d\nheight=%d\ntoplevel=%s\ninput=%s\npid=%d\n" \
        [winfo rootx .in] [winfo rooty .in] [winfo width .in] [winfo height .in] \
        [winfo id .] [winfo id .in] [pid]]
}

if {$hookCmd ne ""} {
    expr {srand([clock microseconds] % 0x7fffffff)}
    set conversationId [uuid]
    cd $hookWorkspace
}

wm title . $name
wm geometry . $geometry

label .shown -text "" -anchor nw -justify left -background white -relief sunken \
    -font {Helvetica 11} -wraplength 360
text .in -height 3 -undo 0 -font {Helvetica 12} -wrap word
pack .in -side bottom -fill x -padx 4 -pady 4
pack .shown -side top -fill both -expand 1 -padx 4 -pady 4

bind .in <<Paste>> {act %W paste; break}
bind .in <<PasteSelection>> {break}
bind .in <<Undo>> {act %W undoPaste; break}
bind .in <Control-z> {act %W undoPaste; break}
bind .in <Return> {act %W submit; break}
bind .in <KP_Enter> {act %W submit; break}
bind .in <Control-Return> {act %W submit; break}
bind .in <Shift-Return> {act %W newline; break}

tkwait visibility .in
writeReady
