/*
 * Prints a process's creation time as FILETIME ticks (100 ns since 1601-01-01 UTC):
 * `process-start.exe PID` -> `133500000000000000`. It is what protocol/process-identity.ts reads when
 * ATOMIZER_PROCESS_START names this program: Wine has no PowerShell and its WMI has no
 * CreationDate, while GetProcessTimes works there and on every Windows. Exit 1: no such process.
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: process-start PID\n"); return 2; }
  DWORD pid = (DWORD)strtoul(argv[1], NULL, 10);
  HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  if (!h) h = OpenProcess(PROCESS_QUERY_INFORMATION, FALSE, pid);
  if (!h) return 1;
  FILETIME created, exited, kernel, user;
  DWORD code = 0;
  BOOL ok = GetProcessTimes(h, &created, &exited, &kernel, &user) && GetExitCodeProcess(h, &code);
  CloseHandle(h);
  /* A process that has exited but whose handle someone still holds is not alive. */
  if (!ok || code != STILL_ACTIVE) return 1;
  ULARGE_INTEGER ticks = {.LowPart = created.dwLowDateTime, .HighPart = created.dwHighDateTime};
  printf("%llu\n", (unsigned long long)ticks.QuadPart);
  return 0;
}
