# bash completion for supercell: commands from `supercell --help`, each
# command's flags from `supercell CMD --help`, files for submit's spec.
# Installed by `make install` into share/bash-completion/completions.
_supercell()
{
  local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]}
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" --help 2>/dev/null |
      sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p')" -- "$cur"))
    return
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" "$cmd" --help 2>/dev/null |
      grep -o -- '--[a-z][a-z-]*' | sort -u)" -- "$cur"))
    return
  fi
  case $cmd in
  submit | sbatch | sim) COMPREPLY=($(compgen -f -- "$cur")) ;;
  esac
}
complete -F _supercell supercell
