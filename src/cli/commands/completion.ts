/** Shell completion scripts made from the command table (`vpnsvc completion bash|zsh`, in commands.ts). */
import type { CliCommand } from '../command.js';
import { GLOBAL_OPTIONS } from '../program.js';

const flags = (c: CliCommand | undefined) =>
  [...Object.keys(c?.options ?? {}), ...Object.keys(GLOBAL_OPTIONS), 'help'].map((n) => `--${n}`);

/** The bash function: completes command words, then the chosen command's options. */
export function bashCompletion(commands: CliCommand[]): string {
  const byPath = new Map<string, Set<string>>();
  for (const c of commands) {
    for (let i = 0; i < c.words.length; i++) {
      const key = c.words.slice(0, i).join(' ');
      const set = byPath.get(key) ?? new Set<string>();
      set.add(c.words[i]!);
      byPath.set(key, set);
    }
  }
  const valueFlags = [
    ...new Set(
      commands.flatMap((c) =>
        Object.entries({ ...c.options, ...GLOBAL_OPTIONS })
          .filter(([, o]) => o.type === 'string')
          .flatMap(([n, o]) => [`--${n}`, ...(o.short ? [`-${o.short}`] : [])]),
      ),
    ),
  ];
  const cases: string[] = [];
  // Leaves with their options; a leaf that is also a group lists both.
  const paths = [...new Set([...byPath.keys(), ...commands.map((c) => c.words.join(' '))])].sort((a, b) => b.length - a.length);
  for (const path of paths) {
    const cmd = commands.find((c) => c.words.join(' ') === path);
    const words = [...(byPath.get(path) ?? []), ...(cmd ? flags(cmd) : path === '' ? [...flags(undefined), '--version'] : [])];
    const pattern = path === '' ? '""' : cmd ? `"${path}"|"${path} "*` : `"${path}"`;
    cases.push(`    ${pattern}) words="${words.join(' ')}" ;;`);
  }
  return `# bash completion for vpnsvc: eval "$(vpnsvc completion bash)", or save it as
# /etc/bash_completion.d/vpnsvc
_vpnsvc() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" words="" i w skip=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if ((skip)); then skip=0; continue; fi
    case " ${valueFlags.join(' ')} " in *" $w "*) skip=1; continue ;; esac
    [[ $w == -* ]] && continue
    path="\${path:+$path }$w"
  done
  case "$path" in
${cases.join('\n')}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _vpnsvc vpnsvc
`;
}

/** zsh runs the bash function through its bashcompinit layer. */
export function zshCompletion(commands: CliCommand[]): string {
  return `#compdef vpnsvc
# zsh completion for vpnsvc: eval "$(vpnsvc completion zsh)" in ~/.zshrc
(( $+functions[compdef] )) || { autoload -U +X compinit && compinit }
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(commands)}`;
}
