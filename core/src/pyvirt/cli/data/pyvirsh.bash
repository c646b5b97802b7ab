# bash completion for pyvirsh                                  -*- shell-script -*-
#
# Installed as share/bash-completion/completions/pyvirsh with the pyvirt
# package, and printed by `pyvirsh --print-completion bash` for
# `source <(pyvirsh --print-completion bash)`.
#
# pyvirsh completes its own words: this function hands it the words typed
# after the global options (with the same -c URI and -r, so names come from
# the same connection) through `pyvirsh complete -- WORDS...`, as virsh's
# completion asks `virsh complete`.

_pyvirsh_complete()
{
    local cur words cword
    if declare -F _get_comp_words_by_ref >/dev/null; then
        # URIs and XML-ish values contain ':' '=' and quotes; keep them in one word
        _get_comp_words_by_ref -n "\"'><=;|&(:" -w words -i cword
    else  # plain bash, without the bash-completion package
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi
    cur=${words[cword]}

    local -a global=()
    local i=1 start=0
    while [ "$i" -lt "$cword" ]; do
        case "${words[i]}" in
            -r|--readonly) global+=("-r") ;;
            -c|--connect) i=$((i + 1)); global+=("-c" "${words[i]}") ;;
            --connect=*) global+=("${words[i]}") ;;
            -d|-e|-k|-K|-l|--debug|--escape|--keepalive-interval|--keepalive-count|--log) i=$((i + 1)) ;;
            -*) ;;
            *) start=$i; break ;;
        esac
        i=$((i + 1))
    done
    [ "$start" -eq 0 ] && start=$cword

    local -a input=("${words[@]:start:cword-start+1}")
    input[-1]=${input[-1]//\\:/:}

    local IFS=$'\n'
    local -a found
    found=($("$1" "${global[@]}" complete -- "${input[@]}" 2>/dev/null))
    COMPREPLY=($(compgen -W "${found[*]}" -- "$cur"))
    if declare -F __ltrim_colon_completions >/dev/null; then
        __ltrim_colon_completions "$cur"
    fi
    return 0
} &&
complete -o default -o filenames -F _pyvirsh_complete pyvirsh
