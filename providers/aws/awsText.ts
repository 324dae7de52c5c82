// What AWS accepts in the free text we send: security group names and descriptions, and tags.
// Pure. The character sets are AWS's own (EC2 API reference, CreateSecurityGroup; ELB user guide,
// "Tag a Network Load Balancer"); a request outside them is refused with InvalidParameterValue or
// ValidationError, which no retry fixes.

/** CreateSecurityGroup GroupName/Description and rule descriptions: a-zA-Z0-9, spaces and ._-:/()#,@[]+=&;{}!$*, up to 255. */
const SECURITY_GROUP_TEXT = /[^a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]/g;

/** Text made safe for a security group description: anything else becomes "-", cut at 255. */
export function securityGroupText(text: string): string {
  return text.replace(SECURITY_GROUP_TEXT, '-').slice(0, 255);
}

/** ELB tags: letters, spaces and numbers in UTF-8 plus + - = . _ : / @ (the stricter of ELB and EC2). */
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
/** EC2 allows 127-character keys (ELB 128) and 256-character values (ELB documents 255): the stricter. */
export const TAG_KEY_MAX = 127;
export const TAG_VALUE_MAX = 255;

/** Why AWS would refuse this tag, or undefined when both ELB and EC2 accept it. */
export function tagProblem(key: string, value: string): string | undefined {
  if (key === '') return 'the key is empty';
  if (key.length > TAG_KEY_MAX) return `the key is longer than ${TAG_KEY_MAX} characters`;
  if (value.length > TAG_VALUE_MAX) return `the value is longer than ${TAG_VALUE_MAX} characters`;
  if (key.toLowerCase().startsWith('aws:')) return 'the aws: prefix is reserved for AWS';
  if (!TAG_TEXT.test(key) || !TAG_TEXT.test(value)) return 'only letters, numbers, spaces and + - = . _ : / @ are allowed';
  if (key !== key.trim() || value !== value.trim()) return 'leading or trailing spaces are not allowed';
  return undefined;
}
