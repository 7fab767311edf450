/** One line of `atomizer-jobs doctor`: what was checked and how it went. */
export type CheckLevel = "ok" | "warn" | "fail";

export interface DoctorCheck {
  name: string;
  level: CheckLevel;
  message: string;
}
