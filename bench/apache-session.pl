#!/usr/bin/perl
# Perl's Apache::Session for `npm run bench`: the same tasks and one-line JSON answers as child.mjs.
#   perl bench/apache-session.pl '{"target":"perl-mysql","op":"cycle","namespace":{...},...}'
# Apache::Session::File runs with Transaction => 1 (an exclusive flock from tie to untie);
# Apache::Session::MySQL gets one connection for store and lock (Handle / LockHandle), as a
# persistent mod_perl process would, instead of connecting on every tie. Apache::Session::Postgres
# runs with Commit => 1 on one AutoCommit-off connection: its SELECT … FOR UPDATE holds the row from
# tie to untie, which commits.
use strict;
use warnings;
use File::Path qw(make_path remove_tree);
use JSON::PP qw(decode_json encode_json);
use Time::HiRes qw(time);

my $task = decode_json($ARGV[0]);
my ($name, $dir) = @{ $task->{namespace} }{qw(name dir)};

sub unavailable { print encode_json({ unavailable => $_[0] }), "\n"; exit 0 }

my %targets = (
    'perl-file' => sub {
        require Apache::Session::File;
        return {
            class => 'Apache::Session::File',
            args  => { Directory => $dir, LockDirectory => $dir, Transaction => 1 },
            reset => sub { remove_tree($dir); make_path($dir) },
            drop  => sub { remove_tree($dir) },
        };
    },
    'perl-mysql' => sub {
        require Apache::Session::MySQL;
        require DBI;
        my $dbh = DBI->connect('dbi:mysql:database=test;host=127.0.0.1;port=3306', 'root', '',
            { RaiseError => 0, PrintError => 0, AutoCommit => 1 })
            or unavailable("MySQL at 127.0.0.1:3306 unreachable (" . DBI->errstr . ")");
        $dbh->{RaiseError} = 1;
        return {
            class => 'Apache::Session::MySQL',
            args  => { Handle => $dbh, LockHandle => $dbh, TableName => $name },
            reset => sub {
                $dbh->do("DROP TABLE IF EXISTS $name");
                $dbh->do("CREATE TABLE $name (id char(32) NOT NULL PRIMARY KEY, a_session blob)");
            },
            drop => sub { $dbh->do("DROP TABLE IF EXISTS $name") },
        };
    },
    'perl-postgres' => sub {
        require Apache::Session::Postgres;
        require DBI;
        my $dbh = DBI->connect('dbi:Pg:dbname=test;host=127.0.0.1;port=5432', 'postgres', '',
            { RaiseError => 0, PrintError => 0, AutoCommit => 0 })
            or unavailable("PostgreSQL at 127.0.0.1:5432 unreachable (" . DBI->errstr . ")");
        $dbh->{RaiseError} = 1;
        my $ddl = sub { $dbh->do($_) for @_; $dbh->commit };
        return {
            class => 'Apache::Session::Postgres',
            args  => { Handle => $dbh, Commit => 1, TableName => $name },
            reset => sub {
                $ddl->("DROP TABLE IF EXISTS $name", "CREATE TABLE $name (id char(32) NOT NULL PRIMARY KEY, a_session text)");
            },
            drop => sub { $ddl->("DROP TABLE IF EXISTS $name") },
        };
    },
);

my $target = ($targets{ $task->{target} } or die "unknown Perl target $task->{target}\n")->();

sub seed {
    tie my %session, $target->{class}, undef, $target->{args};
    $session{$_} = $task->{session}{$_} for keys %{ $task->{session} };
    my $id = $session{_session_id};
    untie %session;
    return $id;
}

sub cycle {
    my ($id, $i) = @_;
    tie my %session, $target->{class}, $id, $target->{args};
    $session{count}++;
    $session{last} = $i;
    untie %session;
}

sub count {
    my ($id) = @_;
    tie my %session, $target->{class}, $id, $target->{args};
    my $count = $session{count};
    untie %session;
    return 0 + $count;
}

my %operations = (
    cycle => sub {
        my ($cycles, $warmup) = @{$task}{qw(cycles warmup)};
        $target->{reset}->();
        my @ids = map { seed() } 1 .. 100;
        cycle($ids[ $_ % 100 ], $_) for 0 .. $warmup - 1;
        my @cpu = times;
        my $start = time;
        cycle($ids[ $_ % 100 ], $_) for 0 .. $cycles - 1;
        my $ms = (time - $start) * 1000;
        my @cpuAfter = times;
        my $cpuUs = ($cpuAfter[0] - $cpu[0] + $cpuAfter[1] - $cpu[1]) * 1e6;
        my $stored = 0;
        $stored += count($_) for @ids;
        die "the sessions hold $stored increments in total, expected " . ($warmup + $cycles) . "\n"
            if $stored != $warmup + $cycles;
        return { cycles => $cycles, ms => $ms, cyclesPerSecond => $cycles / $ms * 1000, cpuUsPerCycle => $cpuUs / $cycles };
    },
    seed => sub { $target->{reset}->(); return { id => seed() } },
    increment => sub { cycle($task->{id}, $_) for 0 .. $task->{increments} - 1; return {} },
    count => sub { return { count => count($task->{id}) } },
    drop => sub { $target->{drop}->(); return {} },
);

my $operation = $operations{ $task->{op} } or die "unknown operation $task->{op}\n";
my $result = eval { $operation->() };
if ($@) {
    print encode_json({ error => "$@" }), "\n";
    exit 1;
}
print encode_json({ result => $result }), "\n";
